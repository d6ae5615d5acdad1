"""The end of a multi-process run: every rank waits, the process group ends, and the objects
that held it are collected before the interpreter's teardown (issue 23 item 7a;
:mod:`repl_mm.engine.runner.cluster` explains why the collection matters). Used by
``tools/train.py`` / ``test.py`` (through ``cluster.run_to_the_end``) and by the preemption
hook."""
import gc

__all__ = ['finish_distributed']


def finish_distributed(wait: bool = True) -> None:
    """Barrier (``wait``), then ``destroy_process_group``, then a garbage collection that
    destroys the group's C++ object with the last cycle holding it. Without a process group
    only the collection runs. ``wait=False`` on an error path, where another
    rank may never reach the barrier."""
    import torch.distributed as dist
    gc.collect()
    if dist.is_available() and dist.is_initialized():
        try:
            if wait:
                dist.barrier()
        finally:
            dist.destroy_process_group()
    gc.collect()
