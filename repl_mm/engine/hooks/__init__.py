"""repl-mm's training hooks, one per module, registered in mmengine's ``HOOKS`` (the mmdet,
mmseg and mmpretrain registries fall back to it):

* :mod:`.checkpoint_hook`: ``SafeCheckpointHook`` (crash-safe saves and rotation);
* :mod:`.non_finite_loss_hook`: ``NonFiniteLossHook`` (stops at the first NaN/inf loss term);
* :mod:`.rng_state_hook`: ``RNGStateHook`` (bit-exact resume of the random streams);
* :mod:`.adaptive_repl_hook`: ``AdaptiveRepLHook`` (per-epoch adaptive replacement mask);
* :mod:`.preemption_hook`: ``PreemptionCheckpointHook`` (a checkpoint on SIGTERM/SIGUSR1);
* :mod:`.model_fingerprint_hook`: ``ModelFingerprintHook`` (resume refuses a changed model);
* :mod:`.defaults`: what ``tools/train.py`` and ``ReplRunner`` add to a config.
"""
from .adaptive_repl_hook import AdaptiveRepLHook
from .checkpoint_hook import SafeCheckpointHook
from .defaults import DEFAULT_HOOKS, add_default_hooks, use_safe_checkpoint_hook
from .model_fingerprint_hook import ModelChangedError, ModelFingerprintHook
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .preemption_hook import PreemptionCheckpointHook
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state

__all__ = ['AdaptiveRepLHook', 'SafeCheckpointHook', 'DEFAULT_HOOKS', 'add_default_hooks',
           'use_safe_checkpoint_hook', 'NonFiniteLossError', 'NonFiniteLossHook',
           'RNGStateHook', 'get_rng_state', 'set_rng_state', 'ModelChangedError',
           'ModelFingerprintHook', 'PreemptionCheckpointHook']
