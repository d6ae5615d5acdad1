"""Runtime support shared by ``tools/train.py``, ``tools/test.py`` and the demos.

* :mod:`.scope`: picks mmdet, mmseg or mmpretrain from the config's ``default_scope``;
* :mod:`.dist`: torchrun / slurm multi-process runs, with gloo when there is no GPU;
* :mod:`.checkpoint`: safe (``weights_only``) checkpoint loading for resume, ``load_from`` and
  pretrained weights -- installed when this package is imported;
* :mod:`.safe_save`: crash-safe (atomic) checkpoint saving and rotation -- installed on import;
* :mod:`.resume`: auto-resume from the newest loadable checkpoint -- installed on import;
* :mod:`.hooks`: ``NonFiniteLossHook`` and ``RNGStateHook`` (added to every training config);
* :mod:`.config_checks`: unknown ``--cfg-options`` keys, SyncBN on CPU multi-process runs;
* :mod:`.runner`: the CLI-to-config merging of the toolboxes' tools and ``build_runner``;
* :mod:`.measure`: trainable parameters and activation memory of one training step;
* :mod:`.synthetic_coco`: a small deterministic COCO-format detection set.
"""
from .checkpoint import (MMENGINE_SAFE_GLOBALS, UnsafeCheckpointError,
                         install_safe_checkpoint_loading, safe_torch_load)
from .dist import LAUNCHERS, setup_distributed
from .hooks import NonFiniteLossError, NonFiniteLossHook, RNGStateHook
from .resume import NoLoadableCheckpointError, install_resume_fallback
from .runner import (add_result_dump, build_runner, default_work_dir, load_config,
                     merge_test_args, merge_train_args)
from .safe_save import install_crash_safe_saving
from .scope import TOOLBOX_SCOPES, detect_scope, setup_scope

install_safe_checkpoint_loading()
install_crash_safe_saving()
install_resume_fallback()

__all__ = ['MMENGINE_SAFE_GLOBALS', 'UnsafeCheckpointError', 'install_safe_checkpoint_loading',
           'safe_torch_load', 'LAUNCHERS', 'setup_distributed', 'add_result_dump',
           'build_runner', 'default_work_dir', 'load_config', 'merge_test_args',
           'merge_train_args', 'TOOLBOX_SCOPES', 'detect_scope', 'setup_scope',
           'NonFiniteLossError', 'NonFiniteLossHook', 'RNGStateHook',
           'NoLoadableCheckpointError', 'install_crash_safe_saving', 'install_resume_fallback']
