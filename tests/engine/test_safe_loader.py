"""One safe loader for every mmengine checkpoint scheme (issue 12):

* a pickled payload is refused through local paths, ``open-mmlab://`` (local file and URL),
  ``torchvision://``, ``http(s)://``, ``mmcls://``, ``pavi://`` and ``s3://`` even with
  ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, and its marker file is never created (a control shows
  mmengine's own ``open-mmlab://`` loader runs it);
* files that are not checkpoints (HTML, Git LFS pointer, empty, random, text, truncated) get
  :class:`NotACheckpointError` naming the file and what it looks like -- not the security
  refusal;
* unpickling a ``HistoryBuffer`` leaves the class-wide statistics table alone.

URLs are served from torch's hub cache (``TORCH_HOME`` in tmp_path): nothing is downloaded.
"""
import os
import pickle
import sys
import types

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import checkpoint as ckpt_mod
from mmengine.runner.checkpoint import _load_checkpoint

from repl_mm.engine.fileio.safe_load import (
    MMENGINE_SAFE_GLOBALS,
    NotACheckpointError,
    UnsafeCheckpointError,
    safe_torch_load,
)

#: mmengine's own functions: ``import repl_mm`` replaces none of them (the safe loaders are
#: registered as schemes instead), so the module attributes are mmengine's originals
MMENGINE_ORIGINALS = dict(load_from_openmmlab=ckpt_mod.load_from_openmmlab,
                          history_buffer_setstate=HistoryBuffer.__setstate__)

URL = 'https://download.example.invalid/models/{}'


class Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1, a torch hub cache and an mmengine home in
    tmp_path, and an evil and a good checkpoint placed in both."""
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    hub = tmp_path / 'torch_home' / 'hub' / 'checkpoints'
    home = tmp_path / 'mmengine_home'
    hub.mkdir(parents=True)
    home.mkdir()
    marker = tmp_path / 'payload_ran'
    for folder in (hub, home, tmp_path):
        torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': {'x': Payload(str(marker))}},
                   folder / 'evil.pth')
        torch.save({'state_dict': {'w': torch.arange(3.)}}, folder / 'good.pth')
    monkeypatch.setattr(ckpt_mod, '_get_mmengine_home', lambda: str(home))
    monkeypatch.setattr(ckpt_mod, 'get_external_models', lambda: {
        'evil_local': 'evil.pth', 'good_local': 'good.pth',
        'evil_url': URL.format('evil.pth'), 'good_url': URL.format('good.pth')})
    monkeypatch.setattr(ckpt_mod, 'get_torchvision_models', lambda: {
        'evil': URL.format('evil.pth'), 'good': URL.format('good.pth')})
    monkeypatch.setattr(ckpt_mod, 'get_mmcls_models', lambda: {'evil': URL.format('evil.pth')})
    # pavi: a stand-in for the modelcloud client that "downloads" from tmp_path
    pavi = types.ModuleType('pavi')

    class _Model:
        def __init__(self, path):
            self.name = os.path.basename(path)

        def download(self, dst):
            with open(tmp_path / self.name, 'rb') as src, open(dst, 'wb') as out:
                out.write(src.read())

    pavi.modelcloud = types.SimpleNamespace(get=_Model)
    monkeypatch.setitem(sys.modules, 'pavi', pavi)

    # s3 / petrel: a stand-in storage backend reading tmp_path
    class _Backend:
        def get(self, filename):
            return (tmp_path / os.path.basename(filename)).read_bytes()

    import mmengine.fileio
    monkeypatch.setattr(mmengine.fileio, 'get_file_backend', lambda *a, **k: _Backend())
    return tmp_path, marker


SCHEMES = {
    'local': lambda tmp: str(tmp / '{}.pth'),
    'open-mmlab local': lambda tmp: 'open-mmlab://{}_local',
    'open-mmlab url': lambda tmp: 'openmmlab://{}_url',
    'torchvision': lambda tmp: 'torchvision://{}',
    'https': lambda tmp: URL,
    'pavi': lambda tmp: 'pavi://project/{}.pth',
    's3': lambda tmp: 's3://bucket/{}.pth',
}


@pytest.mark.parametrize('scheme', [*SCHEMES, 'mmcls'])
def test_payload_refused_through_every_scheme(env, scheme):
    tmp, marker = env
    name = 'mmcls://evil' if scheme == 'mmcls' else \
        SCHEMES[scheme](tmp).format('evil.pth' if scheme == 'https' else 'evil')
    with pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(name, map_location='cpu')
    msg = str(err.value)
    assert 'holds a pickled object outside the allowlist: posix.system' in msg
    assert 'none of its code ran' in msg
    assert not marker.exists()


@pytest.mark.parametrize('scheme', list(SCHEMES))
def test_good_checkpoint_loads_through_every_scheme(env, scheme):
    tmp, _ = env
    name = SCHEMES[scheme](tmp).format('good.pth' if scheme == 'https' else 'good')
    ckpt = _load_checkpoint(name, map_location='cpu')
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(3.))


def test_control_mmengine_openmmlab_loader_runs_the_payload(env):
    """mmengine 0.10.7's open-mmlab:// loader (torch.load without weights_only) under the
    variable: the payload runs, so the refusals above can fail."""
    tmp, marker = env
    MMENGINE_ORIGINALS['load_from_openmmlab']('open-mmlab://evil_local', map_location='cpu')
    assert marker.exists()


def _lfs() -> bytes:
    return (b'version https://git-lfs.github.com/spec/v1\noid sha256:' + b'0' * 64
            + b'\nsize 46830571\n')


def _truncated(tmp_path) -> bytes:
    path = tmp_path / 'full.pth'
    torch.save({'state_dict': {'w': torch.randn(64, 64)}}, path)
    data = path.read_bytes()
    return data[:len(data) // 2]


BAD_FILES = {
    'html': (lambda tmp: b'<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>'
             b'</html>', 'looks like HTML'),
    'lfs': (lambda tmp: _lfs(), 'looks like a Git LFS pointer'),
    'empty': (lambda tmp: b'', 'is empty (0 bytes)'),
    'random': (lambda tmp: bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8,
                                               generator=torch.Generator().manual_seed(3))
                                 .tolist()), 'unknown binary format'),
    'text': (lambda tmp: b'epoch 1 loss 0.5\nepoch 2 loss 0.4\n', 'looks like a text file'),
    'truncated': (_truncated, 'is truncated or corrupt (a zip archive'),
}


@pytest.mark.parametrize('kind', list(BAD_FILES))
@pytest.mark.parametrize('how', ['safe_torch_load', '_load_checkpoint'])
def test_not_a_checkpoint_named_and_described(tmp_path, kind, how):
    make, phrase = BAD_FILES[kind]
    path = tmp_path / f'{kind}.pth'
    path.write_bytes(make(tmp_path))
    loader = safe_torch_load if how == 'safe_torch_load' else _load_checkpoint
    with pytest.raises(NotACheckpointError) as err:
        loader(str(path))
    msg = str(err.value)
    assert msg.startswith(f'{path} is not a PyTorch checkpoint: it ')
    assert phrase in msg and 'Nothing in it was unpickled' in msg
    assert not isinstance(err.value, UnsafeCheckpointError)
    assert 'run code' not in msg


def test_html_download_names_url_and_cache(env):
    tmp, _ = env
    cached = tmp / 'torch_home' / 'hub' / 'checkpoints' / 'page.pth'
    cached.write_bytes(b'<html><body>Sign in</body></html>')
    with pytest.raises(NotACheckpointError) as err:
        _load_checkpoint(URL.format('page.pth'))
    msg = str(err.value)
    assert msg.startswith(f'{URL.format("page.pth")} (cached as {cached}) is not a PyTorch '
                          'checkpoint: it looks like HTML')
    assert f'Delete the cached file {cached}' in msg


def _history_buffer_with_remapped_mean(path) -> None:
    """A checkpoint whose pickled HistoryBuffer maps 'mean' to HistoryBuffer.max."""
    buf = HistoryBuffer([1.0, 5.0], [1, 1])
    saved = dict(HistoryBuffer._statistics_methods)
    HistoryBuffer._statistics_methods['mean'] = HistoryBuffer.max
    try:
        torch.save({'message_hub': {'log_scalars': {'loss': buf}}}, path)
    finally:
        HistoryBuffer._statistics_methods.clear()
        HistoryBuffer._statistics_methods.update(saved)


def test_history_buffer_unpickling_keeps_process_state(tmp_path, monkeypatch):
    path = tmp_path / 'hub.pth'
    _history_buffer_with_remapped_mean(path)
    loaded = safe_torch_load(str(path))['message_hub']['log_scalars']['loss']
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean
    assert loaded.mean() == 3.0 and loaded.statistics('mean') == 3.0
    assert HistoryBuffer([2.0, 4.0], [1, 1]).statistics('mean') == 3.0
    # the guarded patch is gone again after the load
    assert HistoryBuffer.__setstate__ is MMENGINE_ORIGINALS['history_buffer_setstate']
    # control: mmengine's __setstate__ (a weights-only load under the same allowlist, without
    # the guard) would have remapped 'mean' for every buffer
    saved = dict(HistoryBuffer._statistics_methods)
    try:
        with torch.serialization.safe_globals(list(MMENGINE_SAFE_GLOBALS)):
            torch.load(str(path), weights_only=True)
        assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.max
    finally:
        HistoryBuffer._statistics_methods.clear()
        HistoryBuffer._statistics_methods.update(saved)


def test_payload_with_plain_torch_load_still_refused(tmp_path):
    """add_safe_globals widened torch's allowlist by mmengine's classes only."""
    marker = tmp_path / 'ran'
    path = tmp_path / 'evil.pth'
    torch.save({'x': Payload(str(marker))}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    assert not marker.exists()
