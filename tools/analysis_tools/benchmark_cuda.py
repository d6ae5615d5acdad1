"""The paper's GPU memory / time rows, E2E vs RepL, on one CUDA device -> docs/benchmarks_cuda.md

    python tools/analysis_tools/benchmark_cuda.py                      # all five rows
    python tools/analysis_tools/benchmark_cuda.py --rows resnet110-cifar10 --reps 5

(repl_mm/cli/benchmark_cuda.py; tools/gpu_check.sh runs it with PYTHONPATH=<the checkout>.)
"""
import sys

from repl_mm.cli.benchmark_cuda import main

if __name__ == '__main__':
    sys.exit(main())
