"""FLOPs and parameters of an mmseg config: the workaround for mmsegmentation 1.2.2's
``tools/analysis_tools/get_flops.py``, which fails with mmengine 0.10.7 (``ValueError: "input_shape"
and "inputs" cannot be both set.``). Same counting (mmengine's ``get_model_complexity_info``,
auxiliary head dropped, SyncBN reverted), same command line::

    python tools/misc/mmseg_get_flops.py CONFIG [--shape H W] [--cfg-options k=v ...]
"""
import argparse
from typing import Optional, Sequence

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config, DictAction
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Get the FLOPs of a segmentor')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--shape', type=int, nargs='+', default=[2048, 1024],
                        help='input size: H W, or one number for a square (default 2048 1024, '
                        'as mmseg\'s tool)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Prints and returns ``{'input_shape', 'flops', 'params'}`` (raw counts)."""
    args = parse_args(argv)
    if len(args.shape) not in (1, 2):
        raise ValueError(f'--shape takes H W or one number, got {args.shape}')
    h, w = (args.shape * 2)[:2]
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from ..adapters import build_in_scope
    model = revert_sync_batchnorm(build_in_scope(cfg.model, 'mmseg'))
    if hasattr(model, 'auxiliary_head'):
        model.auxiliary_head = None  # inference path only, as mmseg's get_flops.py
    model.eval()
    out = get_model_complexity_info(model, inputs=(torch.rand(1, 3, h, w), ),
                                    show_table=False, show_arch=False)
    line = '=' * 30
    print(f'{line}\nInput shape: {(h, w)}\nFlops: {out["flops_str"]}\n'
          f'Params: {out["params_str"]}\n{line}')
    return dict(input_shape=(h, w), flops=out['flops'], params=out['params'])


if __name__ == '__main__':
    main()
