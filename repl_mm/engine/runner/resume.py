"""Auto-resume (``--resume`` without a file, ``resume=True`` in a config) that finds the newest
checkpoint that loads.

mmengine's ``Runner`` resumes from whatever ``<work_dir>/last_checkpoint`` names; a missing pointer
makes it start from scratch and overwrite the existing ``epoch_N.pth`` files, a truncated
checkpoint stops it. :func:`find_resume_checkpoint` instead

* loads the pointed checkpoint to check it (safe loader, ``map_location='cpu'``);
* if the pointer is missing, empty, or names a missing or unreadable file, takes the newest
  ``epoch_*.pth`` / ``iter_*.pth`` of the work dir that loads, saying so in the log;
* with no checkpoint at all says that training starts from scratch;
* if checkpoints exist but none loads, stops with :class:`NoLoadableCheckpointError` listing
  each file and what is wrong with it -- it never trains over existing checkpoints.

A file refused as unsafe (:class:`~repl_mm.engine.fileio.UnsafeCheckpointError`) stops
the search: that is a security refusal, not a broken file.
:meth:`ReplRunner.load_or_resume <repl_mm.engine.runner.repl_runner.ReplRunner.load_or_resume>`
calls it where mmengine's ``Runner`` calls ``find_latest_checkpoint``.
"""
import logging
import os
import os.path as osp
import re
from typing import List, Optional, Tuple

from mmengine.logging import print_log

from ..fileio.safe_load import UnsafeCheckpointError, safe_torch_load

__all__ = ['NoLoadableCheckpointError', 'list_checkpoints', 'checkpoint_problem',
           'find_resume_checkpoint']

_CKPT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


class NoLoadableCheckpointError(RuntimeError):
    """The work dir holds checkpoints but none of them loads."""


def list_checkpoints(work_dir: str) -> List[str]:
    """The ``epoch_N.pth`` / ``iter_N.pth`` files of ``work_dir``, newest (largest N) first.

    Args:
        work_dir (str): the run's work directory.
    """
    if not osp.isdir(work_dir):
        return []
    found: List[Tuple[int, float, str]] = []
    for name in os.listdir(work_dir):
        match = _CKPT_NAME.match(name)
        path = osp.join(work_dir, name)
        if match and osp.isfile(path):
            found.append((int(match.group(2)), osp.getmtime(path), path))
    return [path for *_, path in sorted(found, reverse=True)]


def checkpoint_problem(path: str) -> Optional[str]:
    """What keeps ``path`` from being resumed; None when it loads and has ``meta`` with
    ``epoch`` and ``iter``.

    Args:
        path (str): a checkpoint file.

    Raises:
        UnsafeCheckpointError: the file holds a pickled object outside the allowlist.
    """
    if not osp.isfile(path):
        return 'does not exist'
    try:
        ckpt = safe_torch_load(path, map_location='cpu')
    except UnsafeCheckpointError:
        raise
    except Exception as e:  # noqa: BLE001 -- every other failure makes the file unusable
        return f'does not load ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else e})'
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    if not isinstance(meta, dict) or 'epoch' not in meta or 'iter' not in meta:
        return "has no meta.epoch / meta.iter (not a training checkpoint of mmengine's runner)"
    return None


def _read_pointer(work_dir: str) -> Optional[str]:
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        return f.read().strip() or None


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to auto-resume from (see the module docstring).

    Args:
        work_dir (str): the run's work directory.

    Returns:
        str or None: a loadable checkpoint, or None when the work dir holds no checkpoint.

    Raises:
        NoLoadableCheckpointError: checkpoints exist but none loads.
        UnsafeCheckpointError: a candidate holds a pickled object outside the allowlist.
    """
    pointed = _read_pointer(work_dir)
    failures: List[Tuple[str, str]] = []
    if pointed is not None:
        problem = checkpoint_problem(pointed)
        if problem is None:
            print_log(f'Resuming from {pointed} (named by {work_dir}/last_checkpoint).',
                      logger='current')
            return pointed
        failures.append((pointed, problem))
        print_log(f'{work_dir}/last_checkpoint names {pointed}, which {problem}; looking for '
                  'the newest loadable epoch_*.pth / iter_*.pth instead.',
                  logger='current', level=logging.WARNING)
    candidates = [c for c in list_checkpoints(work_dir)
                  if pointed is None or osp.abspath(c) != osp.abspath(pointed)]
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            why = 'has no last_checkpoint' if pointed is None else \
                'its last_checkpoint names an unusable file'
            print_log(f'Resuming from {path}, the newest loadable checkpoint in {work_dir} '
                      f'(the work dir {why}).', logger='current', level=logging.WARNING)
            return path
        failures.append((path, problem))
    if not failures:
        print_log(f'No checkpoint in {work_dir} to resume from: training starts from scratch.',
                  logger='current', level=logging.WARNING)
        return None
    listing = '\n'.join(f'  {path}: {problem}' for path, problem in failures)
    raise NoLoadableCheckpointError(
        f'Cannot resume in {work_dir}: it holds checkpoints but none loads:\n{listing}\n'
        'Training was not started, so nothing was overwritten. Fix or move these files, or '
        'name a checkpoint with --resume PATH, or use another --work-dir to start from '
        'scratch.')
