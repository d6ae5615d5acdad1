"""Test (and evaluate) a model of mmdet, mmsegmentation or mmpretrain (``default_scope`` picks).

Same command line as the toolboxes' ``tools/test.py`` (``repl-mm-test`` once installed)::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--out-item metrics|pred] [--show] [--show-dir DIR] [--interval N] [--tta] [--amp]
        [--no-pin-memory] [--cfg-options k=v ...] [--launcher none|pytorch|slurm]
    tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [args]

The data is checked first, before torch or a toolbox is imported (issue 29; exit 1 on missing
or wrong data, ``--check-data`` checks and exits 0/1). See repl_mm.cli.test.
"""
from repl_mm_launch import precheck

if __name__ == '__main__':
    precheck('test')   # stdlib only: before `import repl_mm` (torch, the toolboxes)

import sys  # noqa: E402

from repl_mm.cli.test import main, parse_args, run  # noqa: E402,F401

if __name__ == '__main__':
    sys.exit(run(label='tools/test.py'))
