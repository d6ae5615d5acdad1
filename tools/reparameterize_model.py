#!/usr/bin/env python
"""Convert a trained RepL checkpoint into its deploy form (paper §IV-D1e, eq. 32-33).

    python tools/reparameterize_model.py CONFIG SRC_CHECKPOINT DST_CHECKPOINT

Evaluate the result with ``tools/test.py CONFIG DST --cfg-options model.backbone.deploy=True``.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import repl_mm  # noqa: E402,F401
from repl_mm.deploy import reparameterize_checkpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config of the trained RepL model')
    parser.add_argument('src', help='trained checkpoint')
    parser.add_argument('dst', help='where to write the deploy checkpoint (.pth)')
    args = parser.parse_args()
    if not args.dst.endswith('.pth'):
        parser.error(f'dst must end with .pth, got {args.dst!r}')
    os.makedirs(os.path.dirname(os.path.abspath(args.dst)), exist_ok=True)
    reparameterize_checkpoint(args.config, args.src, args.dst)
    print(f'deploy checkpoint written to {args.dst}')


if __name__ == '__main__':
    main()
