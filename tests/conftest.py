import os

os.environ.setdefault('OMP_NUM_THREADS', '2')

import pytest  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

import repl_mm  # noqa: E402,F401  registers the RepL backbones in every installed toolbox


@pytest.fixture(autouse=True)
def no_default_scope_from_other_tests():
    """mmengine's current default scope redirects every ``Registry.build`` to that scope's
    registry; start each test with none, whatever an earlier test (or tool) set."""
    saved = DefaultScope._instance_dict.copy()
    DefaultScope._instance_dict.clear()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)


@pytest.fixture(autouse=True)
def no_visualizer_from_other_tests():
    """In-process runs and the toolboxes' inferencers leave their visualizer as mmengine's
    "current instance", which a later run's visualization hook would pick up (an mmpretrain
    visualizer under mmdet's DetVisualizationHook). Start every test with none."""
    from mmengine.visualization import Visualizer

    def clear(cls):
        cls._instance_dict.clear()
        for sub in cls.__subclasses__():
            clear(sub)
    clear(Visualizer)
    yield


def _mmseg_base_configs_unresolvable() -> bool:
    """onedl-mmengine 0.10.12 resolves ``_base_ = 'mmseg::...'`` through the *distribution*
    name ``mmsegmentation``, which onedl-mmsegmentation does not provide: every config that
    inherits mmseg's (our DeepLab configs) stops with "mmsegmentation is not installed"
    (docs/compatibility.md, known upstream breakages)."""
    import importlib.util
    try:
        from mmengine.utils import is_installed
    except ImportError:
        return False
    return importlib.util.find_spec('mmseg') is not None and not is_installed('mmsegmentation')


#: tests that load a config inheriting ``mmseg::`` configs
_MMSEG_BASE_TESTS = (
    'tests/configs/test_segmentation_configs.py::test_pair_builds_with_paper_recipe',
    'tests/deploy/test_export_quantize.py::test_onnx_export_matches_pytorch[seg]')


def pytest_collection_modifyitems(config, items):
    """Every test under tests/e2e carries the ``e2e`` marker (pyproject.toml registers it); the
    tests of configs that inherit ``mmseg::`` configs are skipped, naming the upstream
    breakage, where this mmengine cannot resolve them (the OneDL cell of the matrix)."""
    for item in items:
        if '/tests/e2e/' in str(item.fspath).replace('\\', '/'):
            item.add_marker(pytest.mark.e2e)
    if not any(item.nodeid.startswith(_MMSEG_BASE_TESTS) for item in items) \
            or not _mmseg_base_configs_unresolvable():
        return
    skip = pytest.mark.skip(reason='upstream breakage: this mmengine resolves mmseg:: base '
                            'configs through the distribution name mmsegmentation, which is '
                            'not installed (onedl-mmsegmentation; docs/compatibility.md)')
    for item in items:
        if item.nodeid.startswith(_MMSEG_BASE_TESTS):
            item.add_marker(skip)
