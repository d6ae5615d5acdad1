"""Safe checkpoint loading (repl_mm.engine.fileio): mmengine training state loads with
weights_only=True through the schemes registered by ``import repl_mm.engine``; a file carrying
any other pickled object is refused before its code runs."""
import collections
import os

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import CheckpointLoader, load_checkpoint
from mmengine.runner import checkpoint as ckpt_mod
from mmengine.runner.checkpoint import _load_checkpoint

import repl_mm.engine  # noqa: F401  registers the safe loaders as CheckpointLoader schemes
from repl_mm.engine.fileio import loaders
from repl_mm.engine.fileio.safe_load import UnsafeCheckpointError, safe_globals, safe_torch_load


class Payload:
    """Runs ``touch marker`` when unpickled by a full (unsafe) unpickler."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


class GetattrPayload:
    """Reaches past the HistoryBuffer methods through the getattr that HistoryBuffer needs."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def _payload_file(tmp_path, name='evil.pth'):
    marker = tmp_path / f'{name}.ran'
    path = tmp_path / name
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': {'x': Payload(str(marker))}}, path)
    return str(path), marker


def _mmengine_like_state():
    hub = MessageHub('test_ckpt_hub')
    for v in (1.5, 2.5, 0.25):
        hub.update_scalar('train/loss', v)
    hub.update_info('eta', np.float64(3.5))
    hub.update_info('dataset_meta', {'classes': ('a', 'b'), 'palette': [(1, 2, 3)]})
    return {'meta': {'epoch': 1, 'iter': 4, 'seed': 0, 'cfg': 'x = 1',
                     'dataset_meta': {'classes': ('a', 'b')}},
            'state_dict': collections.OrderedDict(w=torch.arange(3.)),
            'message_hub': hub.state_dict(),
            'optimizer': {'state': {0: {'step': torch.tensor(4.), 'exp_avg': torch.ones(3)}},
                          'param_groups': [{'lr': 1e-3, 'betas': (0.9, 0.999), 'params': [0]}]},
            'extra': {'arr': np.arange(4, dtype=np.int64), 'f32': np.float32(1.25)}}


#: a path of every scheme mmengine registers -> the safe loader registered for it
SCHEME_PATHS = {
    '/x.pth': loaders.load_from_local, 'https://h/x.pth': loaders.load_from_http,
    'http://h/x.pth': loaders.load_from_http, 'torchvision://resnet50':
    loaders.load_from_torchvision, 'modelzoo://resnet50': loaders.load_from_torchvision,
    'open-mmlab://x': loaders.load_from_openmmlab, 'openmmlab://x': loaders.load_from_openmmlab,
    'mmcls://x': loaders.load_from_mmcls, 'pavi://p/x.pth': loaders.load_from_pavi,
    's3://b/x.pth': loaders.load_from_ceph, 'petrel://b/x.pth': loaders.load_from_ceph,
    'open-mmlab:s3://b/x.pth': loaders.load_from_ceph,
}


def test_registered_on_import():
    """Every scheme resolves to a safe loader; mmengine's module functions stay its own."""
    for path, loader in SCHEME_PATHS.items():
        assert CheckpointLoader._get_checkpoint_loader(path) is loader, path
    for name in ('load_from_local', 'load_from_http', 'load_url', 'save_checkpoint'):
        assert not getattr(ckpt_mod, name).__module__.startswith('repl_mm'), name
    assert loaders.safe_schemes_registered()


def test_mmengine_state_round_trips(tmp_path):
    state = _mmengine_like_state()
    path = str(tmp_path / 'ok.pth')
    torch.save(state, path)
    # the allowlist is registered with torch only while our loaders run: a plain torch.load
    # (weights_only=True, torch >= 2.6) is left as torch makes it (issue 21)
    for loaded in (safe_torch_load(path), _load_checkpoint(path, map_location='cpu')):
        buf = loaded['message_hub']['log_scalars']['train/loss']
        assert isinstance(buf, HistoryBuffer)
        assert buf.mean() == pytest.approx((1.5 + 2.5 + 0.25) / 3)
        assert buf.statistics('min') == 0.25
        assert loaded['message_hub']['runtime_info']['eta'] == np.float64(3.5)
        assert loaded['extra']['arr'].tolist() == [0, 1, 2, 3]
        assert loaded['extra']['f32'] == np.float32(1.25)
        assert torch.equal(loaded['state_dict']['w'], torch.arange(3.))
        assert loaded['meta']['dataset_meta'] == {'classes': ('a', 'b')}
    assert HistoryBuffer not in torch.serialization.get_safe_globals()


def test_payload_is_real(tmp_path):
    """The payload does run under a full unpickler: the refusals below can fail."""
    path, marker = _payload_file(tmp_path, 'unsafe_control.pth')
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize('how', ['safe_torch_load', '_load_checkpoint', 'load_checkpoint'])
def test_payload_refused(tmp_path, how):
    path, marker = _payload_file(tmp_path)
    with pytest.raises(UnsafeCheckpointError) as err:
        if how == 'safe_torch_load':
            safe_torch_load(path)
        elif how == '_load_checkpoint':
            _load_checkpoint(path, map_location='cpu')
        else:
            load_checkpoint(torch.nn.Linear(2, 2), path)
    msg = str(err.value)
    assert f'Refused to load checkpoint {path}' in msg
    assert 'system' in msg and 'none of its code ran' in msg
    assert not marker.exists()


def test_payload_refused_even_if_env_forces_unsafe_loads(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    path, marker = _payload_file(tmp_path)
    with pytest.raises(UnsafeCheckpointError):
        _load_checkpoint(path)
    assert not marker.exists()


def test_getattr_restricted_to_history_buffer_methods(tmp_path):
    path = str(tmp_path / 'getattr.pth')
    torch.save({'x': GetattrPayload()}, path)
    with pytest.raises(UnsafeCheckpointError, match='getattr'):
        safe_torch_load(path)


def test_url_loader_is_weights_only(tmp_path):
    """http(s)://, torchvision://, open-mmlab:// all download through the registered
    https:// loader -> load_url (served here from a file:// URL)."""
    load_from_http = CheckpointLoader._get_checkpoint_loader('https://example.invalid/x.pth')
    path, marker = _payload_file(tmp_path, 'remote.pth')
    with pytest.raises(UnsafeCheckpointError):
        load_from_http('file://' + path, model_dir=str(tmp_path / 'hub'))
    assert not marker.exists()
    good = str(tmp_path / 'good.pth')
    torch.save(_mmengine_like_state(), good)
    loaded = load_from_http('file://' + good, model_dir=str(tmp_path / 'hub'))
    assert loaded['meta']['epoch'] == 1


def test_safe_globals_cover_message_hub_state(tmp_path):
    path = str(tmp_path / 'hub.pth')
    torch.save(_mmengine_like_state(), path)
    with safe_globals():
        assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
