"""repl_mm: `pip install -e .` (or `--no-deps`) in an environment that already has torch, mmcv
and the toolboxes never installs, upgrades or downgrades torch, torchvision or mmcv:
install_requires is requirements/runtime.txt only. The rest are extras (requirements/*.txt):
``.[mim]`` mmcv/mmengine, ``.[toolboxes]`` mmdet/mmseg/mmpretrain, ``.[tools]``, ``.[tests]``,
``.[all]``. A fresh machine: `make install` (tools/install_env.sh).

Like mmdet's, it puts ``configs``, ``tools`` and ``model-index.yml`` into ``repl_mm/.mim``
(:func:`add_mim_extension`), so that ``Config.fromfile('repl_mm::retinanet_r101_repl_coco.py')``,
``_base_ = 'repl_mm::...'`` and ``mim train repl_mm CONFIG`` work after an install."""
import importlib.util
import os
import os.path as osp
import platform
import shutil
import sys
import warnings
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


def add_mim_extension() -> None:
    """Puts ``configs``, ``tools`` and ``model-index.yml`` into ``repl_mm/.mim`` (as mmdet's
    setup.py does), where mmengine (``_base_ = 'pkg::...'``) and mim look for them: symlinks
    for an editable install (``pip install -e .``), copies for a wheel or sdist."""
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'copy' if platform.system() == 'Windows' else 'symlink'
    elif 'sdist' in sys.argv or 'bdist_wheel' in sys.argv:
        mode = 'copy'
    else:
        return
    mim_path = osp.join(HERE, 'repl_mm', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for filename in ('configs', 'tools', 'model-index.yml'):
        src_path = osp.join(HERE, filename)
        tar_path = osp.join(mim_path, filename)
        if not osp.exists(src_path):
            continue
        if osp.isfile(tar_path) or osp.islink(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)
        if mode == 'symlink':
            os.symlink(osp.relpath(src_path, osp.dirname(tar_path)), tar_path)
        elif osp.isfile(src_path):
            shutil.copyfile(src_path, tar_path)
        elif osp.isdir(src_path):
            shutil.copytree(src_path, tar_path,
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            warnings.warn(f'Cannot copy file {src_path}.')


EXTRAS = {name: parse_requirements(name) for name in ('mminstall', 'toolboxes', 'tools', 'tests')}
#: the console scripts (tests/test_packaging.py checks that each resolves to a callable).
#: train / test / check-env go through ``repl_mm_launch`` (standard library only, outside the
#: package): the data check, and check_env itself, run before ``import repl_mm`` (torch).
CONSOLE_SCRIPTS = [
    'repl-mm-train = repl_mm_launch:train',
    'repl-mm-test = repl_mm_launch:test',
    'repl-mm-check-env = repl_mm_launch:check_env',
    'repl-mm-convert = repl_mm.cli.convert_e2e_to_repl:main',
    'repl-mm-reparameterize = repl_mm.cli.reparameterize_model:main',
    'repl-mm-export-onnx = repl_mm.cli.pytorch2onnx:main',
    'repl-mm-quantize = repl_mm.cli.quantize:main',
    'repl-mm-frontier = repl_mm.cli.frontier:main',
    'repl-mm-prepare-cityscapes = repl_mm.cli.prepare_cityscapes:main',
    'repl-mm-prepare-fashion-mnist = repl_mm.cli.prepare_fashion_mnist:main',
]

add_mim_extension()
setup(
    name='repl_mm',
    version=VERSIONS.__version__,
    description='Replacement Learning (RepL) backbones for mmdet, mmsegmentation and mmpretrain',
    packages=find_packages(include=['repl_mm', 'repl_mm.*']),
    py_modules=['repl_mm_launch'],
    entry_points={'console_scripts': CONSOLE_SCRIPTS},
    include_package_data=True,
    python_requires=VERSIONS.PYTHON.requires,
    install_requires=parse_requirements('runtime'),
    extras_require=dict(mim=EXTRAS['mminstall'], toolboxes=EXTRAS['toolboxes'],
                        tools=EXTRAS['tools'], tests=EXTRAS['tests'],
                        all=sum(EXTRAS.values(), [])),
)
