"""Export a RepL model in its deploy form to ONNX and check it in onnxruntime.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT OUT.onnx [--input-size H [W]]
        [--batch 1] [--opset 17] [--tolerance 1e-4] [--force] [--cfg-options k=v ...]

CHECKPOINT may be a training or a deploy checkpoint (a training one is folded first, eq. 32-33).
mmpretrain classifiers export end to end (0-255 image -> normalisation -> logits, softmax
scores); mmdet detectors and mmseg segmentors export their raw tensors (``mode='tensor'``:
per-level class / box maps, segmentation logits), without box decoding or NMS. The file is run
in onnxruntime and compared with PyTorch; the max relative difference of every output is
printed, and the exit code is 1 if one exceeds --tolerance.
"""
import argparse
import os
import sys
from typing import Optional, Sequence

from repl_mm.cli.deploy_args import parse_checked
from repl_mm.deploy import check_output_path, load_deploy_model, model_input_shape
from repl_mm.deploy.export import example_input, export_onnx, export_wrapper, verify_onnx
from repl_mm.utils.atomic_write import publish_temporary
from repl_mm.utils.inputs import USER_ERRORS, one_line


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config of the RepL model')
    parser.add_argument('checkpoint', help='training or deploy checkpoint')
    parser.add_argument('out', help='the ONNX file to write (.onnx)')
    parser.add_argument('--input-size', type=int, nargs='+', metavar='H [W]',
                        help='input size (default: the ViT img_size, else 224)')
    parser.add_argument('--batch', type=int, default=1, help='batch of the export input')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset version')
    parser.add_argument('--tolerance', type=float, default=1e-4,
                        help='largest allowed max relative difference onnxruntime vs PyTorch')
    parser.add_argument('--force', action='store_true', help='replace an existing OUT')
    args = parse_checked(parser, argv, 'out', '.onnx')
    if args.batch < 1:
        parser.error(f'--batch must be >= 1, got {args.batch}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        check_output_path(args.checkpoint, args.out, args.force, arg='out')
        model, cfg = load_deploy_model(args.config, args.checkpoint, args.cfg_options)
    except USER_ERRORS as e:
        print(f'error: {one_line(e)}', file=sys.stderr)
        return 2
    scope = cfg.default_scope
    module, names = export_wrapper(model, scope)
    shape = model_input_shape(cfg, args.input_size, batch=args.batch)
    x = example_input(shape, scope)
    tmp = f'{args.out}.tmp-{os.getpid()}.onnx'
    try:
        names = export_onnx(module, x, tmp, names, opset=args.opset)
        diffs = verify_onnx(tmp, module, x)
        worst = max(diffs.values())
        if worst <= args.tolerance:   # an export that fails its check is not written
            publish_temporary(tmp, args.out)  # fsync, rename, folder fsync
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    if worst > args.tolerance:
        print(f'error: onnxruntime differs from PyTorch by {worst:.3e} > --tolerance '
              f'{args.tolerance:g}; {args.out} was not written', file=sys.stderr)
        return 1
    print(f'ONNX file written to {args.out} ({scope}, input {tuple(shape)}, opset {args.opset}, '
          f'outputs {names})')
    for name, d in diffs.items():
        print(f'  {name}: max relative difference onnxruntime vs PyTorch {d:.3e}')
    print(f'max relative difference {worst:.3e} (tolerance {args.tolerance:g})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
