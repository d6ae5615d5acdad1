"""Train loops registered in mmengine's ``LOOPS`` registry."""
from .resumable_loop import ResumableEpochBasedTrainLoop

__all__ = ['ResumableEpochBasedTrainLoop']
