"""Table IX rows measured: E2E / RepL, each plain, + stochastic depth (Huang et al.) and
+ checkpointing, for one backbone. See repl_mm.cli.benchmark_stochastic_depth.

    python tools/analysis_tools/benchmark_stochastic_depth.py cifar-resnet32 --reps 40
    python tools/analysis_tools/benchmark_stochastic_depth.py resnet101 --input-size 224 \\
        --batch-size 32 --device cuda
"""
from repl_mm.cli.benchmark_stochastic_depth import main

if __name__ == '__main__':
    main()
