"""Train a model of mmdet, mmsegmentation or mmpretrain (the config's ``default_scope`` picks).

Same command line as the toolboxes' ``tools/train.py`` (``repl-mm-train`` once installed)::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
        [--auto-scale-lr] [--no-validate] [--cfg-options k=v ...] [--launcher none|pytorch|slurm]
    tools/dist_train.sh CONFIG NUM_PROCESSES [args]     # torchrun

The data is checked first, before torch or a toolbox is imported (issue 29; exit 1 on missing
or wrong data, ``--check-data`` checks and exits 0/1). See repl_mm.cli.train.
"""
import sys

from repl_mm_launch import precheck

if __name__ == '__main__':
    precheck('train')   # stdlib only: before `import repl_mm` (torch, the toolboxes)

from repl_mm.cli.train import main, parse_args, run  # noqa: E402,F401

if __name__ == '__main__':
    sys.exit(run(label='tools/train.py'))
