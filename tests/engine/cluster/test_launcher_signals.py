"""Issue 30 items 3-4: the launchers end what they start. Real torchrun, real gloo workers
(``cluster_run.py``, 2 processes), real signals to the launcher only or to its whole process
group (a Ctrl-C), through the forwarding of ``tools/launcher_signals.sh`` that
``tools/dist_train.sh`` / ``dist_test.sh`` / ``slurm_*.sh`` use."""
import json
import os
import os.path as osp
import re
import shlex
import signal
import stat
import subprocess
import sys
import time

import pytest
from cluster_helpers import ROOT, RUN, env, free_port

pytestmark = pytest.mark.slow

SIGNALS = osp.join(ROOT, 'tools', 'launcher_signals.sh')


def _run_of(marker: str) -> list:
    """PIDs of live processes whose command line holds ``marker``."""
    pids = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                cmd = f.read().decode(errors='replace')
            with open(f'/proc/{pid}/stat') as f:
                state = f.read().rsplit(')', 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmd and state != 'Z':
            pids.append(int(pid))
    return pids


def _launch(name: str, kind: str, command: list) -> subprocess.Popen:
    script = (f'. {shlex.quote(SIGNALS)}; repl_mm_run_forwarding {name} {kind} '
              + ' '.join(map(shlex.quote, command)) + '; exit $?')
    return subprocess.Popen(['bash', '-c', script], cwd=ROOT, env=env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=_default_sigint)


def _default_sigint():
    # as from a terminal: a shell started with SIGINT ignored (pytest run as a background
    # job) cannot trap it (POSIX)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _torchrun_train(work: str) -> list:
    spec = dict(work_dir=work, epochs=3, num_workers=2, persistent_workers=True, sleep=0.5)
    return ['nice', sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
            f'--master_port={free_port()}', RUN, json.dumps(spec)]


def _read_until(proc, text: str, timeout: float = 150) -> list:
    lines, end = [], time.time() + timeout
    for line in proc.stdout:
        lines.append(line)
        if text in line:
            return lines
        assert time.time() < end, ''.join(lines[-20:])
    raise AssertionError(''.join(lines[-30:]))


@pytest.mark.parametrize('how', ['launcher-alone', 'process-group-sigint'])
def test_signal_to_launcher_saves_and_leaves_no_process(tmp_path, how):
    """SIGTERM to the launcher process alone, or SIGINT to its whole process group (a
    Ctrl-C, forwarded as SIGTERM): the workers save one checkpoint at the next iteration,
    torchrun ends quietly, the last line is the launcher's preemption line, exit code 143,
    and 15 s later no process of the run is left."""
    work = str(tmp_path / 'w')
    proc = _launch('tools/dist_train.sh', 'torchrun', _torchrun_train(work))
    head = _read_until(proc, 'ITER 3')
    if how == 'launcher-alone':
        proc.send_signal(signal.SIGTERM)
        want = 143
    else:
        os.killpg(proc.pid, signal.SIGINT)
        want = 143  # forwarded as SIGTERM
    out = ''.join(head) + proc.communicate(timeout=300)[0]
    assert proc.returncode == want, out[-3000:]
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r'tools/dist_train\.sh: preempted at epoch 0 iteration \d+: saved '
                        r'\S+iter_\d+\.pth; resume with --resume', last), out[-3000:]
    assert 'Traceback' not in out and 'SignalException' not in out
    path = last.split('saved ')[1].split(';')[0]
    assert osp.isfile(path)
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip() == path
    time.sleep(15)
    assert _run_of(work) == []


def test_test_launcher_ends_torchrun_and_workers(tmp_path):
    """dist_test.sh's kind: nothing to save; torchrun and both workers end, no failure
    report, the last line says what stopped it."""
    marker = f'sleep {1000 + os.getpid() % 1000}'
    proc = _launch('tools/dist_test.sh', 'torchrun-test',
                   [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
                    f'--master_port={free_port()}', '--no-python', 'bash', '-c',
                    f'echo READY; {marker}'])
    _read_until(proc, 'READY')
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 143, out
    assert out.strip().splitlines()[-1] == \
        'tools/dist_test.sh: stopped by SIGTERM (exit code 143)'
    assert 'Traceback' not in out
    time.sleep(2)
    assert _run_of(marker) == []


def _fake_slurm(tmp_path) -> dict:
    """``srun`` that runs the task command once (``SLURM_PROCID=0``, one task) and
    ``scontrol`` that records its arguments."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text(
        '#!/usr/bin/env bash\n'
        'echo "srun $*" >> "$FAKE_SLURM_LOG"\n'
        'while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do\n'
        '  if [ "$1" = -p ]; then shift; fi; shift\n'
        'done\n'
        'exec "$@"\n')
    (bin_dir / 'scontrol').write_text('#!/usr/bin/env bash\necho "scontrol $*" >> '
                                      '"$FAKE_SLURM_LOG"\n')
    for f in ('srun', 'scontrol'):
        (bin_dir / f).chmod(0o755 | stat.S_IEXEC)
    return dict(PATH=f'{bin_dir}:{os.environ["PATH"]}', FAKE_SLURM_LOG=str(tmp_path / 'log'))


def test_slurm_train_options(tmp_path):
    """--requeue outside sbatch is refused in one line; a malformed --signal too; inside a
    job with WORK_DIR/last_checkpoint, --resume is added (a requeued job resumes by itself)
    and --signal/--requeue are not passed to train.py."""
    script = osp.join(ROOT, 'tools', 'slurm_train.sh')
    base = env(**_fake_slurm(tmp_path), PYTHON='echo')
    base.pop('SLURM_JOB_ID', None)
    work = tmp_path / 'w'
    r = subprocess.run(['bash', script, 'p', 'j', 'cfg.py', str(work), '--requeue'],
                       env=base, capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith(
        'tools/slurm_train.sh: --requeue needs an sbatch job')
    r = subprocess.run(['bash', script, 'p', 'j', 'cfg.py', str(work), '--signal=USR1'],
                       env=base, capture_output=True, text=True)
    assert r.returncode == 2 and '--signal must look like B:USR1@120' in r.stderr
    work.mkdir()
    (work / 'last_checkpoint').write_text(str(work / 'iter_7.pth'))
    r = subprocess.run(['bash', script, 'p', 'j', 'cfg.py', str(work), '--requeue',
                        '--signal=B:USR1@120', '--amp'],
                       env=dict(base, SLURM_JOB_ID='42', SLURM_RESTART_COUNT='1'),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    train_args = r.stdout.strip().splitlines()[-1]  # PYTHON=echo prints the task's command
    assert train_args.endswith(f'cfg.py --work-dir={work} --launcher=slurm --amp --resume')
    assert '--requeue' not in train_args and '--signal' not in train_args
