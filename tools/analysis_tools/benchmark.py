"""Benchmark a RepL config against its E2E twin, side by side with the analytic prediction
(paper eq. 42, 53-58; Tables IX, XI, XII). See repl_mm.cli.benchmark.

    python tools/analysis_tools/benchmark.py configs/resnet34_repl_imagenet.py \\
        configs/resnet34_imagenet.py --batch-size 4 --reps 10
    python tools/analysis_tools/benchmark.py resnet32-cifar --batch-size 64 --compat  # a preset
    python tools/analysis_tools/benchmark.py configs/retinanet_r50_repl_coco.py \\
        --scope backbone --batch-size 1
"""
from repl_mm.cli.benchmark import main

if __name__ == '__main__':
    main()
