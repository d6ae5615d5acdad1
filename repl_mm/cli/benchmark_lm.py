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
from typing import Any, Dict, Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    import torch
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


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    args = parse_args(argv)
    if args.vocab_from and not os.path.isfile(args.vocab_from):  # issue 29: one line
        raise SystemExit(f'[data check] --vocab-from {os.path.abspath(args.vocab_from)}: not '
                         'found; it is the word-level wiki.train.tokens (docs/language_model.md, '
                         'section "Data"), or leave --vocab-from out for --vocab-size')
    from ..analysis.lm_benchmark import format_lm_report, run_lm_benchmark
    res = run_lm_benchmark(args)
    print(format_lm_report(res))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
    return res
