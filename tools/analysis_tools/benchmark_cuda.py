"""The paper's GPU memory / time rows, E2E vs RepL, on one CUDA device -> docs/benchmarks_cuda.md

    python tools/analysis_tools/benchmark_cuda.py                      # all five rows
    python tools/analysis_tools/benchmark_cuda.py --rows resnet110-cifar10 --reps 5

(repl_mm/cli/benchmark_cuda.py; run by tools/gpu_check.sh.)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from repl_mm.cli.benchmark_cuda import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
