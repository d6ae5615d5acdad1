"""A finished multi-process run leaves no gloo thread behind at exit (issue 23 item 7a).

CI saw rank 1 of a finished 2-process ``tools/dist_train.sh`` run die with ``terminate called
without an active exception`` (exit -6). The cause, listed in ``/proc/self/task``: after
``destroy_process_group`` the DDP wrapper, held in reference cycles, still owned the C++
``ProcessGroupGloo``, whose threads (``gloo_tcp_loop``, ``pt_gloo_runloop``) ran on into the
interpreter's teardown. :func:`repl_mm.engine.runner.cluster.run_to_the_end` ends the group
from a frame that no longer holds the run; these tests count the threads left.
"""
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = textwrap.dedent('''
    import os, sys, json
    import torch
    import torch.distributed as dist
    from repl_mm.engine.runner.cluster import finish_distributed, run_to_the_end

    def gloo_threads():
        names = []
        for tid in os.listdir('/proc/self/task'):
            try:
                with open(f'/proc/self/task/{tid}/comm') as f:
                    names.append(f.read().strip())
            except OSError:
                pass
        return sorted(n for n in names if 'gloo' in n)

    def body(outcome):
        dist.init_process_group('gloo', rank=0, world_size=1)
        model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 2))
        holder = {'model': model}
        holder['self'] = holder              # a cycle, as runner <-> hooks / loops
        model(torch.randn(3, 4)).sum().backward()
        report['during'] = gloo_threads()
        if outcome == 'exit':
            sys.exit(3)
        if outcome == 'error':
            raise ValueError('boom in training')

    mode, outcome = sys.argv[1], sys.argv[2]
    report = {}
    def done():
        report['after'] = gloo_threads()
        print('REPORT ' + json.dumps(report), flush=True)
    import atexit
    atexit.register(done)
    if mode == 'old':   # what tools/train.py did before: barrier + destroy from the caller
        body(outcome)
        dist.barrier()
        dist.destroy_process_group()
    else:
        run_to_the_end(lambda: body(outcome), 'probe')
''')


def _run(tmp_path, mode: str, outcome: str = 'finish'):
    script = tmp_path / 'probe.py'
    script.write_text(SCRIPT)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''),
               OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, str(script), mode, outcome], capture_output=True,
                          text=True, timeout=300, env=env, cwd=str(tmp_path))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('REPORT ')]
    assert lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc, json.loads(lines[-1][len('REPORT '):])


def test_the_old_teardown_leaves_gloo_threads_running(tmp_path):
    """The detector works: barrier + destroy_process_group alone, as before, leave the group's
    threads alive at exit (if a future torch ends them itself, this says so)."""
    proc, report = _run(tmp_path, 'old')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert any('gloo' in n for n in report['during']), report
    assert report['after'], ('no gloo thread left after destroy_process_group alone: this '
                             f'torch ends the group itself ({report})')


@pytest.mark.parametrize('outcome,code', [('finish', 0), ('exit', 3), ('error', 1)])
def test_run_to_the_end_leaves_no_gloo_thread(tmp_path, outcome, code):
    proc, report = _run(tmp_path, 'new', outcome)
    assert proc.returncode == code, proc.stderr[-3000:]
    assert len(report['during']) >= 2, report          # the group was alive during the run
    assert report['after'] == [], report               # and nothing of it at exit
    if outcome == 'error':  # the traceback is printed as the interpreter would
        assert 'Traceback (most recent call last)' in proc.stderr
        assert 'ValueError: boom in training' in proc.stderr
