"""Runtime support shared by ``tools/train.py``, ``tools/test.py`` and the demos.

* :mod:`.scope`: picks mmdet, mmseg or mmpretrain from the config's ``default_scope``;
* :mod:`.dist`: torchrun / slurm multi-process runs, with gloo when there is no GPU;
* :mod:`.checkpoint`: safe (``weights_only``) checkpoint loading for resume, ``load_from`` and
  pretrained weights -- installed when this package is imported;
* :mod:`.runner`: the CLI-to-config merging of the toolboxes' tools and ``build_runner``.

Measurements live in :mod:`repl_mm.analysis`, synthetic data in :mod:`repl_mm.testing`.
"""
from .checkpoint import (MMENGINE_SAFE_GLOBALS, UnsafeCheckpointError,
                         install_safe_checkpoint_loading, safe_torch_load)
from .dist import LAUNCHERS, setup_distributed
from .runner import (add_result_dump, build_runner, default_work_dir, load_config,
                     merge_test_args, merge_train_args)
from .scope import TOOLBOX_SCOPES, detect_scope, setup_scope

install_safe_checkpoint_loading()

__all__ = ['MMENGINE_SAFE_GLOBALS', 'UnsafeCheckpointError', 'install_safe_checkpoint_loading',
           'safe_torch_load', 'LAUNCHERS', 'setup_distributed', 'add_result_dump',
           'build_runner', 'default_work_dir', 'load_config', 'merge_test_args',
           'merge_train_args', 'TOOLBOX_SCOPES', 'detect_scope', 'setup_scope']
