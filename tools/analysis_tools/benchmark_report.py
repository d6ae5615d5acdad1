"""Run the paper's benchmark table (Tables I, II, VIII, IX, XI, XII, XIV) and write it out
(docs/benchmarks.md). See repl_mm.cli.benchmark_report.

    python tools/analysis_tools/benchmark_report.py           # every row, CPU (about 25 min)
    python tools/analysis_tools/benchmark_report.py --only resnet32 vit-small backends
    python tools/analysis_tools/benchmark_report.py --device cuda \\
        --json docs/benchmarks_cuda.json --batch-scale 16 --reps 20          # a GPU session
    python tools/analysis_tools/benchmark_report.py --render-only  # the markdown from JSON
"""
from repl_mm.cli.benchmark_report import main

if __name__ == '__main__':
    main()
