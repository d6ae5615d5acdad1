"""repl_mm.utils.config.config_path: ``repl_mm::<name>`` -> the installed ``repl_mm/.mim/configs``
(a wheel) or the source checkout's ``configs``."""
import os.path as osp

import pytest

from repl_mm.utils import config as config_mod


def _package(tmp_path, checkout: bool):
    root = tmp_path / 'site'
    pkg = root / 'repl_mm'
    (pkg / '.mim' / 'configs' / 'table9').mkdir(parents=True)
    (pkg / '.mim' / 'configs' / 'a.py').write_text('x = "mim"\n')
    (pkg / '.mim' / 'configs' / 'table9' / 'b.py').write_text('x = 2\n')
    if checkout:
        (root / 'configs').mkdir()
        (root / 'configs' / 'a.py').write_text('x = "checkout"\n')
        (root / 'setup.py').write_text('')
    return str(root), str(pkg)


def test_installed_configs_resolve_from_mim(tmp_path, monkeypatch):
    root, pkg = _package(tmp_path, checkout=False)
    (tmp_path / 'site' / 'configs').mkdir()   # a stray site-packages/configs is not ours
    (tmp_path / 'site' / 'configs' / 'a.py').write_text('x = "stray"\n')
    monkeypatch.setattr(config_mod, '_PACKAGE', pkg)
    assert config_mod.config_path('repl_mm::a.py') == osp.join(pkg, '.mim', 'configs', 'a.py')
    assert config_mod.config_path('repl_mm::table9/b.py') == osp.join(
        pkg, '.mim', 'configs', 'table9', 'b.py')
    assert config_mod.config_path('configs/a.py') == 'configs/a.py'   # not ours: unchanged


def test_checkout_configs_win_over_a_stale_mim_copy(tmp_path, monkeypatch):
    root, pkg = _package(tmp_path, checkout=True)
    monkeypatch.setattr(config_mod, '_PACKAGE', pkg)
    assert config_mod.config_path('repl_mm::a.py') == osp.join(root, 'configs', 'a.py')
    # only in the .mim copy: still found
    assert config_mod.config_path('repl_mm::table9/b.py').endswith('table9/b.py')


def test_missing_config_names_the_folders(tmp_path, monkeypatch):
    root, pkg = _package(tmp_path, checkout=False)
    monkeypatch.setattr(config_mod, '_PACKAGE', pkg)
    with pytest.raises(FileNotFoundError, match=r"'repl_mm::nope.py': no nope.py in .*\.mim"):
        config_mod.config_path('repl_mm::nope.py')


def test_repo_config_loads_by_name():
    from repl_mm.engine.runner.build import load_config
    cfg = load_config('repl_mm::retinanet_r101_repl_coco.py')
    assert cfg.model.backbone.type == 'ResNetRepL'
