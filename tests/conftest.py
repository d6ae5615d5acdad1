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


def pytest_collection_modifyitems(config, items):
    """Every test under tests/e2e carries the ``e2e`` marker (pyproject.toml registers it)."""
    for item in items:
        if '/tests/e2e/' in str(item.fspath).replace('\\', '/'):
            item.add_marker(pytest.mark.e2e)
