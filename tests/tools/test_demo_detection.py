"""tools/misc/demo_detection.py (make demo) runs end to end, shortened: 1 epoch on 8 images."""
import json
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_demo_short_run(tmp_path):
    work = tmp_path / 'demo'
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'misc', 'demo_detection.py'),
         '--work-dir', str(work),
         '--epochs', '1', '--num-train', '8', '--num-val', '4', '--reps', '1'],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(work / 'detection_demo.json') as f:
        res = json.load(f)
    repl, e2e = res['RetinaNet-R34-RepL'], res['RetinaNet-R34 (E2E)']
    assert repl['params'] == 1584847 and e2e['params'] == 1755343
    assert repl['synthesis_bytes'] > 0 and e2e['synthesis_bytes'] == 0
    assert 0 < repl['act_bytes'] < e2e['act_bytes']
    for r in (repl, e2e):
        assert 0.0 <= r['bbox_mAP'] <= 1.0 and r['step_time'] > 0
        assert len(r['loss']) == 1  # 8 images / (2 processes x batch 4): 1 logged iteration
        assert r['checkpoint'].endswith('epoch_1.pth')
    assert (work / 'detection_demo.png').stat().st_size > 10000
    table = proc.stdout[proc.stdout.index('RepL vs E2E'):]
    assert 'trainable params' in table and '1,584,847' in table and '-9.7%' in table
