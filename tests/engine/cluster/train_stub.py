"""``tools/train.py`` run as ``__main__`` on a config of the tiny toy model (mmengine only, no
toolbox): ``python train_stub.py NUM_CLASSES EPOCHS [train.py args]``.

``repl_mm.engine.load_config`` is replaced by one that returns the toy config and
``build_runner`` by ``Runner.from_cfg`` (the toolboxes are not needed for what is tested:
the work-dir lock, the cluster defaults, the one-line errors, the exit code); everything else
is ``tools/train.py``'s own code.
"""
import os
import runpy
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path[:0] = [ROOT, os.path.join(ROOT, 'tests', 'engine')]

from mmengine.config import Config  # noqa: E402
from mmengine.registry import DATASETS, MODELS  # noqa: E402
from tiny_run import AugmentedToySet, ToyClassifier  # noqa: E402

import repl_mm.engine  # noqa: E402


@MODELS.register_module()
class StubClassifier(ToyClassifier):
    def __init__(self, num_classes: int = 4) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4 * 8 * 8, num_classes)


DATASETS.register_module(module=AugmentedToySet)
NUM_CLASSES, EPOCHS = int(sys.argv[1]), int(sys.argv[2])


def load_config(path, cfg_options=None):
    cfg = Config(dict(
        model=dict(type='StubClassifier', num_classes=NUM_CLASSES),
        train_dataloader=dict(dataset=dict(type='AugmentedToySet'), batch_size=4,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              num_workers=0, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=EPOCHS),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        randomness=dict(seed=0), log_level='INFO'))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_runner(cfg):
    from mmengine.runner import Runner
    with open(os.path.join(cfg.work_dir, 'built.txt'), 'a') as f:
        f.write(f'{cfg.train_cfg.get("type")} {[h["type"] for h in cfg.custom_hooks]}\n')
    return Runner.from_cfg(cfg)


repl_mm.engine.load_config = load_config
repl_mm.engine.build_runner = build_runner
sys.argv = [os.path.join(ROOT, 'tools', 'train.py'), 'stub.py'] + sys.argv[3:]
runpy.run_path(sys.argv[0], run_name='__main__')
