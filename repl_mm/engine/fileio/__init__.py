"""File-system helpers of the engine."""
from .save_errors import CheckpointWriteError, describe_write_error

__all__ = ['CheckpointWriteError', 'describe_write_error']
