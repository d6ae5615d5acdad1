#!/usr/bin/env python
"""E2E vs RepL cost of the WikiText-2 Transformer LM (paper §IV-D1d, Table X), one run.

Builds ``TransformerLM`` and ``TransformerLMRepL`` (K = 4: blocks 3 and 7 of 12 replaced)
with the same seed and reports

* trainable parameters, measured and as eq. 42/50 predicts (``P_E2E - sum_r (P_r - a_r)``,
  ``a_r = 2`` or ``2H`` per site);
* the bytes one training step saves for backward (activations + synthesized operators,
  eq. 58; ``repl_mm.analysis.count_saved_bytes``), and on CUDA the peak allocated memory of
  a training step;
* the time of one full training step (forward, backward, AdamW step), E2E and RepL timed
  interleaved (ABBA) in one run; on CPU with process CPU time.

    python tools/analysis_tools/benchmark_lm.py [--batch 2] [--seq-len 128] \\
        [--vocab-size 33278 | --vocab-from data/wikitext-2/wiki.train.tokens] [--json OUT]
"""
import argparse
import json
import os
import sys
from typing import Any, Dict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import torch  # noqa: E402

from repl_mm.analysis import count_saved_bytes, cuda_peak_memory, interleaved_times, paired_ratio  # noqa: E402
from repl_mm.core.vit import ViTComputingLayer  # noqa: E402
from repl_mm.models.transformer_lm import TransformerLM, TransformerLMRepL  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--vocab-size', type=int, default=33278,
                   help='V (default 33278, the size of the classic WikiText-2 word vocabulary)')
    p.add_argument('--vocab-from', help='build V from this training text instead')
    p.add_argument('--layers', type=int, default=12)
    p.add_argument('--dims', type=int, default=512)
    p.add_argument('--heads', type=int, default=8)
    p.add_argument('--ff', type=int, default=2048)
    p.add_argument('--interval', type=int, default=4)
    p.add_argument('--head-wise', action='store_true')
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--seq-len', type=int, default=128)
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--json', help='also write the results to this JSON file')
    return p.parse_args(argv)


def trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()
               if p.requires_grad)


def eq50_repl_params(e2e: TransformerLM, repl: TransformerLMRepL) -> int:
    """``P_E2E - sum_{r in R} P_r + sum_{r in R} a_r`` (eq. 42, ``a_r`` of eq. 50)."""
    removed = sum(sum(p.numel() for p in e2e.layers[r].parameters())
                  for r in repl.removed_blocks)
    added = sum(trainable(m) for m in repl.layers if isinstance(m, ViTComputingLayer))
    return trainable(e2e) - removed + added


def run(args: argparse.Namespace) -> Dict[str, Any]:
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
        row = {'trainable_params': trainable(model), 'saved_bytes': saved.total,
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


def format_report(res: Dict[str, Any]) -> str:
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


def main(argv=None) -> Dict[str, Any]:
    args = parse_args(argv)
    if args.vocab_from and not os.path.isfile(args.vocab_from):  # issue 29: one line
        raise SystemExit(f'[data check] --vocab-from {os.path.abspath(args.vocab_from)}: not '
                         'found; it is the word-level wiki.train.tokens (docs/language_model.md, '
                         'section "Data"), or leave --vocab-from out for --vocab-size')
    res = run(args)
    print(format_report(res))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == '__main__':
    main()
