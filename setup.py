"""repl_mm: `pip install -e .` (or `--no-deps`) in an environment that already has torch, mmcv
and the toolboxes never installs, upgrades or downgrades torch, torchvision or mmcv:
install_requires is requirements/runtime.txt only. The rest are extras (requirements/*.txt):
``.[mim]`` mmcv/mmengine, ``.[toolboxes]`` mmdet/mmseg/mmpretrain, ``.[tools]``, ``.[tests]``,
``.[all]``. A fresh machine: `make install` (tools/install_env.sh)."""
import os.path as osp
from typing import List

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def parse_requirements(name: str) -> List[str]:
    """The requirement lines of ``requirements/<name>.txt`` (comments and blanks dropped)."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


EXTRAS = {name: parse_requirements(name) for name in ('mminstall', 'toolboxes', 'tools', 'tests')}

setup(
    name='repl_mm',
    version='0.1.0',
    description='Replacement Learning (RepL) backbones for mmdet, mmsegmentation and mmpretrain',
    packages=find_packages(include=['repl_mm', 'repl_mm.*']),
    python_requires='>=3.9',
    install_requires=parse_requirements('runtime'),
    extras_require=dict(mim=EXTRAS['mminstall'], toolboxes=EXTRAS['toolboxes'],
                        tools=EXTRAS['tools'], tests=EXTRAS['tests'],
                        all=sum(EXTRAS.values(), [])),
)
