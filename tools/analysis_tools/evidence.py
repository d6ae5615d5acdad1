"""Real-data evidence on this machine: accuracy over seeds and measured cost, per config
(docs/evidence.md). See repl_mm.cli.evidence.

    python tools/analysis_tools/evidence.py [--configs C ...] [--seeds 0 1 2 3 4]
        [--epochs E] [--work-dir work_dirs/evidence] [--out docs/evidence.md]
        [--plot docs/evidence.png] [--batch-size 64] [--reps 5] [--section NAME]
        [--measure-only] [--note TEXT] [--jobs N]
"""
from repl_mm.cli.evidence import main

if __name__ == '__main__':
    main()
