"""E2E vs RepL cost of the WikiText-2 Transformer LM (paper §IV-D1d, Table X), one run:
trainable parameters measured and as eq. 42/50 predict, bytes saved for backward (eq. 58),
CUDA peak step memory and the interleaved training-step time.
``tools/analysis_tools/benchmark_lm.py`` is the command line (:mod:`repl_mm.cli.benchmark_lm`).
"""
from typing import Any, Dict

import torch

from ..core.vit import ViTComputingLayer
from ..models.transformer_lm import TransformerLM, TransformerLMRepL
from .counters import count_saved_bytes
from .timing import cuda_peak_memory, interleaved_times, paired_ratio
from .train_step import trainable_params

__all__ = ['eq50_repl_params', 'run_lm_benchmark', 'format_lm_report']


def eq50_repl_params(e2e: TransformerLM, repl: TransformerLMRepL) -> int:
    """``P_E2E - sum_{r in R} P_r + sum_{r in R} a_r`` (eq. 42, ``a_r`` of eq. 50)."""
    removed = sum(sum(p.numel() for p in e2e.layers[r].parameters())
                  for r in repl.removed_blocks)
    added = sum(trainable_params(m) for m in repl.layers if isinstance(m, ViTComputingLayer))
    return trainable_params(e2e) - removed + added


def run_lm_benchmark(args) -> Dict[str, Any]:
    """E2E and RepL Transformer LMs (same seed) measured in one run from the parsed options
    of :func:`repl_mm.cli.benchmark_lm.parse_args` (``args``; recorded as ``res['args']``):
    per model trainable parameters, bytes saved for backward (eq. 58), CUDA peak step memory
    and the interleaved training-step time; the RepL/E2E paired time ratio."""
    kw = dict(vocab_size=None if args.vocab_from else args.vocab_size,
              vocab_from=args.vocab_from, embed_dims=args.dims, num_layers=args.layers,
              num_heads=args.heads, feedforward_channels=args.ff,
              max_len=max(args.seq_len, 1))
    torch.manual_seed(0)
    e2e = TransformerLM(**kw).to(args.device)
    torch.manual_seed(0)
    repl = TransformerLMRepL(**kw, interval=args.interval,
                             head_wise=args.head_wise).to(args.device)
    g = torch.Generator().manual_seed(1)
    windows = [torch.randint(0, e2e.vocab_size, (args.seq_len + 1,), generator=g)
               for _ in range(args.batch)]
    models = {'E2E': e2e, 'RepL': repl}
    steps, res = {}, {'args': vars(args), 'vocab_size': e2e.vocab_size,
                      'removed_blocks': repl.removed_blocks, 'rows': {}}
    for name, model in models.items():
        model.train()
        data = model.data_preprocessor({'inputs': windows}, True)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)

        def loss_fn(model=model, data=data):
            return model(**data, mode='loss')['loss']

        def step(model=model, opt=opt, loss_fn=loss_fn):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

        steps[name] = step
        saved = count_saved_bytes(loss_fn, model)
        row = {'trainable_params': trainable_params(model), 'saved_bytes': saved.total,
               'saved_activation_bytes': saved.activation,
               'saved_synthesis_bytes': saved.synthesis}
        if torch.device(args.device).type == 'cuda':
            row['peak_step_bytes'] = cuda_peak_memory(step, args.device)
        res['rows'][name] = row
    res['rows']['RepL']['eq50_predicted_params'] = eq50_repl_params(e2e, repl)
    times = interleaved_times(steps, reps=args.reps, warmup=args.warmup, device=args.device,
                              clock='auto')
    for name, t in times.items():
        res['rows'][name]['step_seconds_median'] = t.median
        res['rows'][name]['step_seconds_q1_q3'] = [t.q1, t.q3]
    res['repl_over_e2e_time'] = paired_ratio(times['RepL'], times['E2E'])
    return res


def format_lm_report(res: Dict[str, Any]) -> str:
    e, r = res['rows']['E2E'], res['rows']['RepL']
    a = res['args']
    lines = [f"Transformer-LM {a['layers']}L-{a['dims']}d-{a['heads']}H-{a['ff']}ff, "
             f"V={res['vocab_size']}, batch {a['batch']} x {a['seq_len']} tokens, "
             f"device {a['device']}, removed blocks {res['removed_blocks']}",
             '| quantity | E2E | RepL | RepL / E2E |', '| --- | --- | --- | --- |',
             f"| trainable parameters | {e['trainable_params']:,} | {r['trainable_params']:,} "
             f"(eq. 50: {r['eq50_predicted_params']:,}) | "
             f"{r['trainable_params'] / e['trainable_params']:.3f} |",
             f"| saved for backward per step (MiB) | {e['saved_bytes'] / 2**20:.1f} | "
             f"{r['saved_bytes'] / 2**20:.1f} | {r['saved_bytes'] / e['saved_bytes']:.3f} |"]
    if 'peak_step_bytes' in e:
        lines.append(f"| peak step memory (MiB) | {e['peak_step_bytes'] / 2**20:.1f} | "
                     f"{r['peak_step_bytes'] / 2**20:.1f} | "
                     f"{r['peak_step_bytes'] / e['peak_step_bytes']:.3f} |")
    lines.append(f"| training step (s, median) | {e['step_seconds_median']:.3f} | "
                 f"{r['step_seconds_median']:.3f} | {res['repl_over_e2e_time']:.3f} (paired) |")
    return '\n'.join(lines)
