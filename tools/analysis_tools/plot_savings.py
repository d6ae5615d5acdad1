"""Draw what RepL saves, in the spirit of the paper's Figure 1, from a benchmark report JSON.
See repl_mm.cli.plot_savings.

    python tools/analysis_tools/plot_savings.py docs/benchmarks.json \\
        --out docs/benchmark_savings.png
"""
from repl_mm.cli.plot_savings import main

if __name__ == '__main__':
    main()
