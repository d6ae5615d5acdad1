"""tools/model_converters/reparameterize_model.py: keeps the source meta, checks itself, never
overwrites the source or an existing file without --force, and names the file on bad input."""
import os
import subprocess
import sys

import pytest
import torch
from repl_deploy_configs import ROOT, cls_config

TOOL = os.path.join(ROOT, 'tools', 'model_converters', 'reparameterize_model.py')


def _run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, TOOL, *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def _bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def test_cli_writes_deploy_checkpoint_with_meta_and_check(cls_case):
    config, train, _, tmp = cls_case
    dst = tmp / 'out' / 'deploy.pth'
    out = _run(config, train, dst, '--input-size', 32)
    assert out.returncode == 0, out.stderr[-3000:]
    diff = float(out.stdout.split('max relative difference ')[1].split()[0])
    assert 0 <= diff < 1e-5
    assert f'python tools/test.py {config} {dst}' in out.stdout
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    src = torch.load(train, map_location='cpu', weights_only=True)
    meta = ckpt['meta']
    assert meta['dataset_meta'] == src['meta']['dataset_meta']
    assert (meta['epoch'], meta['iter'], meta['cfg']) == (1, 4, src['meta']['cfg'])
    assert meta['repl_deploy'] is True and meta['repl_source'] == os.path.abspath(train)
    assert 'optimizer' not in ckpt
    assert any('.conv.weight' in k for k in ckpt['state_dict'])
    assert not any('synthesis' in k for k in ckpt['state_dict'])
    assert not [p for p in os.listdir(dst.parent) if p.startswith('.')]  # no temp file left


@pytest.mark.parametrize('how', ['same', 'relative', 'symlink'])
def test_refuses_to_overwrite_the_source(cls_case, how):
    config, train, _, tmp = cls_case
    before = _bytes(train)
    if how == 'same':
        dst = train
    elif how == 'relative':
        dst = os.path.relpath(train, tmp)
    else:
        dst = tmp / 'link.pth'
        if not dst.exists():
            os.symlink(train, dst)
    out = _run(config, train, dst, cwd=tmp if how == 'relative' else ROOT)
    assert out.returncode != 0
    assert 'is the input checkpoint' in out.stderr and 'nothing was written' in out.stderr
    assert _bytes(train) == before


def test_refuses_existing_dst_without_force(cls_case):
    config, train, _, tmp = cls_case
    dst = tmp / 'existing.pth'
    dst.write_bytes(b'keep me')
    out = _run(config, train, dst)
    assert out.returncode != 0 and '--force' in out.stderr and str(dst) in out.stderr
    assert dst.read_bytes() == b'keep me'
    out = _run(config, train, dst, '--force', '--input-size', 32)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'state_dict' in torch.load(dst, map_location='cpu', weights_only=True)


def test_bad_inputs_name_the_file(cls_case, tmp_path):
    config, train, deploy, tmp = cls_case
    corrupt = tmp_path / 'corrupt.pth'
    corrupt.write_bytes(_bytes(train)[:1000])
    out = _run(config, corrupt, tmp_path / 'a.pth')
    assert out.returncode != 0 and str(corrupt) in out.stderr
    assert 'truncated or corrupt' in out.stderr
    assert not (tmp_path / 'a.pth').exists()

    out = _run(config, deploy, tmp_path / 'b.pth')      # already deploy form
    assert out.returncode != 0 and 'already a deploy checkpoint' in out.stderr

    other = cls_config(tmp_path, dict(type='ResNetRepL', depth=50, stem_channels=8,
                                      base_channels=8, interval=4))
    out = _run(other, train, tmp_path / 'c.pth')        # config of another architecture
    assert out.returncode != 0 and 'does not fit config' in out.stderr
    assert 'Pass the config the checkpoint was trained with' in out.stderr
    assert not (tmp_path / 'c.pth').exists()
