"""Detection end to end on a machine without COCO and without GPUs (``make demo``): RetinaNet
with a ResNet-RepL backbone and its E2E twin trained with 2 processes on a synthetic shapes set,
evaluated, measured (parameters, activation memory, step time) and compared in one table::

    .venv/bin/python tools/misc/demo_detection.py [--work-dir work_dirs/demo_detection]
        [--epochs 12] [--nproc 2] [--num-train 96] [--num-val 32]

A thin entry point: the logic is repl_mm.cli.demo_detection.
"""
from repl_mm.cli.demo_detection import main, parse_args  # noqa: F401

if __name__ == '__main__':
    main()
