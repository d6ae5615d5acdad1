"""Convert a stock end-to-end (E2E) ResNet checkpoint into a RepL initialisation.

    python tools/model_converters/convert_e2e_to_repl.py SRC DST \\
        --config configs/resnet50-v1c_repl_imagenet.py
    python tools/model_converters/convert_e2e_to_repl.py resnet50-torchvision.pth DST \\
        --depth 50 --interval 4

SRC may be a torchvision ResNet state dict (``layer1.0.conv1.weight``, ``bn1``, ``fc``) or an
mmpretrain checkpoint (``backbone.*``, ``head.fc.*``). Retained blocks are copied, the
removed blocks (eq. 16) dropped, and each computing layer starts at alpha = beta = 0.5 with a
default BN. DST is written in mmpretrain layout (``state_dict`` with ``backbone.`` keys), so
``init_cfg=dict(type='Pretrained', prefix='backbone.', checkpoint=DST)`` loads it into the
backbone of any mm config. The mapping logic lives in :mod:`repl_mm.deploy.convert`.
"""
import argparse
import json

from repl_mm.deploy.convert import LAYOUTS, RESNET_TYPES, convert_checkpoint
from repl_mm.utils.inputs import cli_errors


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='E2E checkpoint (torchvision or mmpretrain layout)')
    parser.add_argument('dst', help='where to write the RepL initialisation (.pth)')
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument('--config', help='config whose model has the target RepL backbone')
    target.add_argument('--depth', type=int, help='ResNet depth (18, 34, 50, 101, 152) of '
                        'an mmpretrain RepL backbone built from --type/--interval')
    parser.add_argument('--type', default='ResNetRepL', choices=RESNET_TYPES,
                        help='RepL backbone type with --depth (default ResNetRepL)')
    parser.add_argument('--interval', type=int, default=None,
                        help='replacement interval K (eq. 16) with --depth (default 4)')
    parser.add_argument('--replace-blocks', type=json.loads, default=None,
                        help='explicit plan with --depth, JSON list of 0-based block lists '
                        'per stage, e.g. "[[], [], [3], []]"')
    parser.add_argument('--layout', choices=LAYOUTS, default=None,
                        help='source layout (detected by default)')
    parser.add_argument('--non-strict', action='store_true',
                        help='keep fresh values for retained tensors the source lacks')
    parser.add_argument('--quiet', action='store_true', help='print counts only')
    args = parser.parse_args(argv)
    if args.config is not None and (args.replace_blocks is not None
                                    or args.interval is not None):
        parser.error('--interval / --replace-blocks go with --depth; with --config the '
                     "config's backbone decides the plan")
    if args.interval is None:
        args.interval = 4
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if not args.dst.endswith('.pth'):
        raise SystemExit(f'dst must end with .pth, got {args.dst!r}')
    target = (dict(config=args.config) if args.config else
              dict(depth=args.depth, interval=args.interval,
                   replace_blocks=args.replace_blocks, backbone_type=args.type))
    with cli_errors():   # bad input: one line, nothing written
        report = convert_checkpoint(args.src, args.dst, layout=args.layout,
                                    strict=not args.non_strict, **target)
    print(report.summary(verbose=not args.quiet))
    print(f'RepL initialisation written to {args.dst}')


if __name__ == '__main__':
    main()
