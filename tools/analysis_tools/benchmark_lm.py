#!/usr/bin/env python
"""E2E vs RepL cost of the WikiText-2 Transformer LM (paper §IV-D1d, Table X), one run.
See repl_mm.cli.benchmark_lm.

    python tools/analysis_tools/benchmark_lm.py [--batch 2] [--seq-len 128] \\
        [--vocab-size 33278 | --vocab-from data/wikitext-2/wiki.train.tokens] [--json OUT]
"""
from repl_mm.cli.benchmark_lm import main

if __name__ == '__main__':
    main()
