"""repl_mm: `pip install -e .` (or `--no-deps`) in an environment that already has torch, mmcv
and the toolboxes never installs, upgrades or downgrades torch, torchvision or mmcv:
install_requires is requirements/runtime.txt only. The rest are extras (requirements/*.txt):
``.[mim]`` mmcv/mmengine, ``.[toolboxes]`` mmdet/mmseg/mmpretrain, ``.[tools]``, ``.[tests]``,
``.[all]``. A fresh machine: `make install` (tools/install_env.sh)."""
import importlib.util
import os.path as osp
from typing import List

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def load_versions():
    """repl_mm/version.py by path (stdlib only): the one source of version ranges; it also
    generates requirements/{runtime,mminstall,toolboxes}.txt (tests/tools/test_versions.py)."""
    spec = importlib.util.spec_from_file_location('repl_mm_version',
                                                  osp.join(HERE, 'repl_mm', 'version.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VERSIONS = load_versions()


def parse_requirements(name: str) -> List[str]:
    """The requirement lines of ``requirements/<name>.txt`` (comments and blanks dropped)."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


EXTRAS = {name: parse_requirements(name) for name in ('mminstall', 'toolboxes', 'tools', 'tests')}

setup(
    name='repl_mm',
    version=VERSIONS.__version__,
    description='Replacement Learning (RepL) backbones for mmdet, mmsegmentation and mmpretrain',
    packages=find_packages(include=['repl_mm', 'repl_mm.*']),
    python_requires=VERSIONS.PYTHON.requires,
    install_requires=parse_requirements('runtime'),
    extras_require=dict(mim=EXTRAS['mminstall'], toolboxes=EXTRAS['toolboxes'],
                        tools=EXTRAS['tools'], tests=EXTRAS['tests'],
                        all=sum(EXTRAS.values(), [])),
)
