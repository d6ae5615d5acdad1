"""Train a config once per seed and report mean ± std of the final metrics (paper format).

    python tools/multi_seed.py CONFIG --seeds 0 1 2 3 4 [--work-dir D] [--nproc N]
        [--deterministic] [--test] [--metrics accuracy/top1 ...] [--digits 2]
        [--cfg-options k=v ...] [train.py args: --amp, --auto-scale-lr, ...]

Each seed trains through ``tools/train.py`` into ``D/seed_<S>/``; the data of the config is
checked once, before any seed starts and before torch is imported. See repl_mm.cli.multi_seed.
"""
from repl_mm_launch import precheck

if __name__ == '__main__':
    precheck('multi_seed')   # stdlib only: before `import repl_mm` (torch, the toolboxes)

from repl_mm.cli.multi_seed import main  # noqa: E402

if __name__ == '__main__':
    main(data_checked=True)
