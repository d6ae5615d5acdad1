"""Post-training INT8 quantization of a RepL classifier (and its E2E twin), paper Table XVII.

    python tools/deployment/quantize.py CONFIG CHECKPOINT [--e2e E2E_CONFIG E2E_CHECKPOINT]
        [--scheme auto|int8_dynamic_linear|int8_fx_static] [--calib-batches 8]
        [--max-test-batches N] [--latency-batch 8] [--threads 1] [--name NAME]

The model is loaded in its deploy form (a training checkpoint is folded, eq. 32-33) and
quantized on the CPU: ViTs with dynamic INT8 on the linear layers (int8_dynamic_linear), CNNs
with FX graph-mode static INT8 calibrated on --calib-batches batches of the config's
train_dataloader (int8_fx_static). Prints FP32 and INT8 top-1 / top-5 on the config's test set,
their difference, throughput (img/s) and latency (ms/img), one row per model, in the layout
of Table XVII.
"""
import argparse
import sys
from typing import Iterator, Optional, Sequence, Tuple

import torch
from mmengine.config import DictAction

from repl_mm.deploy import load_deploy_model
from repl_mm.deploy.quantize import (
    SCHEMES,
    ClassifierLogits,
    QuantRow,
    default_scheme,
    evaluate,
    format_table,
    int8_closeness,
    latency_ms_per_img,
    quantize_classifier,
)
from repl_mm.utils.inputs import USER_ERRORS, one_line


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config of the RepL classifier (mmpretrain)')
    parser.add_argument('checkpoint', help='its training or deploy checkpoint')
    parser.add_argument('--e2e', nargs=2, metavar=('CONFIG', 'CHECKPOINT'),
                        help='the E2E twin, quantized and measured the same way')
    parser.add_argument('--scheme', default='auto', choices=('auto',) + SCHEMES,
                        help='auto: int8_dynamic_linear for ViTs, int8_fx_static otherwise')
    parser.add_argument('--calib-batches', type=int, default=8,
                        help='train_dataloader batches for the static calibration')
    parser.add_argument('--max-test-batches', type=int,
                        help='evaluate on at most this many test batches (default: all)')
    parser.add_argument('--latency-batch', type=int, default=8,
                        help='images per timed forward')
    parser.add_argument('--repeat', type=int, default=5, help='timed forwards (median)')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--name', help='backbone name in the table (default: from the config)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of both configs, key=value pairs')
    args = parser.parse_args(argv)
    for name in ('calib_batches', 'latency_batch', 'repeat', 'threads'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {getattr(args, name)}')
    if args.max_test_batches is not None and args.max_test_batches < 1:
        parser.error(f'--max-test-batches must be >= 1, got {args.max_test_batches}')
    return args


def _batches(model, loader, limit: Optional[int]) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """Normalised inputs and labels of a dataloader, through the model's preprocessor."""
    for i, batch in enumerate(loader):
        if limit is not None and i >= limit:
            return
        data = model.data_preprocessor(batch, False)
        labels = torch.cat([s.gt_label for s in data['data_samples']])
        yield data['inputs'], labels


def _backbone_name(cfg) -> str:
    bb = cfg.model.backbone
    arch = bb.get('depth', bb.get('arch', ''))
    return f"{bb.type.replace('RepL', '')}-{arch}" if not isinstance(arch, dict) else bb.type


def measure(method: str, config: str, checkpoint: str, args) -> QuantRow:
    from mmengine.runner import Runner
    model, cfg = load_deploy_model(config, checkpoint, args.cfg_options)
    if cfg.default_scope != 'mmpretrain':
        raise ValueError(f'config {config!r} is a {cfg.default_scope} config; the INT8 tool '
                         'evaluates mmpretrain classifiers')
    scheme = default_scheme(model) if args.scheme == 'auto' else args.scheme
    test_loader = Runner.build_dataloader(cfg.test_dataloader, seed=0)
    calib = []
    if scheme == 'int8_fx_static':
        train_loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
        calib = [x for x, _ in _batches(model, train_loader, args.calib_batches)]
    fp32 = ClassifierLogits(model).eval()
    int8 = quantize_classifier(model, scheme, calib)
    acc_fp32 = evaluate(fp32, _batches(model, test_loader, args.max_test_batches))
    acc_int8 = evaluate(int8, _batches(model, test_loader, args.max_test_batches))
    x, _ = next(_batches(model, test_loader, 1))
    x = x.repeat((args.latency_batch + len(x) - 1) // len(x), 1, 1, 1)[:args.latency_batch]
    ms_fp32 = latency_ms_per_img(fp32, x, repeat=args.repeat)
    ms_int8 = latency_ms_per_img(int8, x, repeat=args.repeat)
    agree, rel_err = int8_closeness(fp32, int8, x)   # the fixed first test batch
    images = len(test_loader.dataset) if args.max_test_batches is None else min(
        len(test_loader.dataset), args.max_test_batches * test_loader.batch_size)
    return QuantRow(args.name or _backbone_name(cfg), method, scheme, acc_fp32, acc_int8,
                    ms_fp32, ms_int8, images, agree, rel_err)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    runs = ([('E2E', *args.e2e)] if args.e2e else []) + [('RepL', args.config, args.checkpoint)]
    rows = []
    for method, config, checkpoint in runs:
        try:
            rows.append(measure(method, config, checkpoint, args))
        except USER_ERRORS as e:   # bad input: one line naming the thing and the fix
            print(f'error: {one_line(e)}', file=sys.stderr)
            return 2
    note = (f'CPU, {args.threads} thread(s), engine {torch.backends.quantized.engine}, '
            f'{rows[-1].images} test images, latency batch {args.latency_batch}, median of '
            f'{args.repeat}; INT8 kernels are CPU-only (fbgemm / onednn).')
    print(format_table(rows, note))
    return 0


if __name__ == '__main__':
    sys.exit(main())
