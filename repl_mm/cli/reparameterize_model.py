"""Convert a trained RepL checkpoint into its deploy form (paper §IV-D1e, eq. 32-33).

    python tools/model_converters/reparameterize_model.py CONFIG SRC_CHECKPOINT DST_CHECKPOINT
        [--force] [--input-size H [W]] [--tolerance 1e-4] [--cfg-options k=v ...]

Keeps the source ``meta`` (class names, config text, epoch / iter), refuses ``DST == SRC`` and
an existing ``DST`` unless ``--force`` (written atomically), compares the training form with
the deploy form on a random input in eval mode and prints the max relative difference. The
deploy checkpoint loads with the training config as it is (the backbone switches itself):
``python tools/test.py CONFIG DST``.
"""
import argparse
import sys
from typing import Optional, Sequence

from repl_mm.cli.deploy_args import parse_checked
from repl_mm.deploy import reparameterize_checkpoint
from repl_mm.engine.fileio.safe_load import UnsafeCheckpointError


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config of the trained RepL model')
    parser.add_argument('src', help='trained (training-form) checkpoint')
    parser.add_argument('dst', help='where to write the deploy checkpoint (.pth); never SRC')
    parser.add_argument('--force', action='store_true', help='replace an existing DST')
    parser.add_argument('--input-size', type=int, nargs='+', metavar='H [W]',
                        help='size of the random check input (default: the ViT img_size, '
                        'else 224)')
    parser.add_argument('--tolerance', type=float, default=1e-4,
                        help='largest allowed max relative difference, training vs deploy form')
    return parse_checked(parser, argv, 'dst', '.pth')


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        result = reparameterize_checkpoint(args.config, args.src, args.dst,
                                           cfg_options=args.cfg_options, force=args.force,
                                           input_size=args.input_size,
                                           tolerance=args.tolerance)
    except (ValueError, FileExistsError, FileNotFoundError, UnsafeCheckpointError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    classes = result.meta.get('dataset_meta', {}).get('classes')
    print(f'deploy checkpoint written to {args.dst}')
    print(f'training vs deploy form, eval mode, random input {tuple(result.input_shape)}: '
          f'max relative difference {result.max_rel_diff:.3e}')
    print(f'kept meta: {sorted(k for k in result.meta if not k.startswith("repl_"))}'
          + ('' if classes else ' (no dataset_meta: the inferencers will not know the class '
             'names)'))
    print('evaluate it next with:\n'
          f'  python tools/test.py {args.config} {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
