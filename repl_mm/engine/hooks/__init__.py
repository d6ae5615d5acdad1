"""Hooks registered in mmengine's ``HOOKS`` registry."""
from .model_fingerprint_hook import ModelChangedError, ModelFingerprintHook
from .preemption_hook import PreemptionCheckpointHook

__all__ = ['ModelChangedError', 'ModelFingerprintHook', 'PreemptionCheckpointHook']
