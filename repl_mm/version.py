"""The one source of repl_mm's version ranges (issue 21, docs/compatibility.md).

Standard library only: ``setup.py``, ``tools/install_env.sh``, ``tools/install_onedl_env.sh``,
``repl_mm/utils/envcheck.py`` (and so ``tools/check_env.py``) and the tests read it by path, before
torch or any toolbox is installed. ``requirements/*.txt`` are generated from it
(``python repl_mm/version.py requirements --write``; ``tests/tools/test_versions.py`` fails when
they differ).

Two notions per distribution:

* ``requires``: what pip is told (``setup.py`` extras, ``requirements/*.txt``): wide enough to
  admit every release we test;
* ``tested``: the releases a cell of the support matrix (``make test-matrix``) ran. A version
  outside them is a WARNING from ``tools/check_env.py`` (package, version, tested range, fix),
  never an error at ``import repl_mm``.

OpenMMLab's distributions (``mmengine``, ``mmcv``, ...) and OneDL's maintained fork
(``onedl-mmengine``, ``onedl-mmcv``, ...) install the same import names (``mmengine``, ``mmcv``,
``mmdet``, ``mmseg``, ``mmpretrain``); :data:`ALIASES` maps each fork distribution to the
OpenMMLab name its modules replace.
"""
import sys
from typing import Dict, List, NamedTuple, Tuple

__version__ = '0.1.0'


class Tested(NamedTuple):
    """``low <= version <= high`` were run by the matrix; ``requires`` is pip's specifier."""
    low: str
    high: str
    requires: str


#: Python: setup.py's python_requires; tested: the matrix cells (3.12: docs/compatibility.md).
PYTHON = Tested('3.11', '3.11', '>=3.9')

#: OpenMMLab's distributions. mmengine 0.10.4-0.10.7 (issue 21); mmcv below 2.2 because mmdet 3.3
#: and mmseg 1.2.2 assert mmcv < 2.2.0.
OPENMMLAB: Dict[str, Tested] = {
    'mmengine': Tested('0.10.4', '0.10.7', '>=0.10.4,<1.0.0'),
    'mmcv': Tested('2.1.0', '2.1.0', '>=2.0.0rc4,<2.2.0'),
    'mmdet': Tested('3.3.0', '3.3.0', '>=3.3.0,<3.4.0'),
    'mmsegmentation': Tested('1.2.2', '1.2.2', '>=1.2.2,<1.3.0'),
    'mmpretrain': Tested('1.2.0', '1.2.0', '>=1.2.0,<1.3.0'),
}

#: OneDL's maintained fork (https://github.com/VBTI-development): same modules, new names.
ONEDL: Dict[str, Tested] = {
    'onedl-mmengine': Tested('0.10.12', '0.10.12', '>=0.10.12,<0.11'),
    'onedl-mmcv': Tested('2.3.6', '2.3.6', '>=2.3.6,<2.4'),
    'onedl-mmdetection': Tested('3.5.1', '3.5.1', '>=3.5.1,<3.6'),
    'onedl-mmsegmentation': Tested('1.4.2', '1.4.2', '>=1.4.2,<1.5'),
    'onedl-mmpretrain': Tested('1.3.6', '1.3.6', '>=1.3.6,<1.4'),
}

#: fork distribution -> the OpenMMLab distribution whose import name it provides
ALIASES = {'onedl-mmengine': 'mmengine', 'onedl-mmcv': 'mmcv', 'onedl-mmdetection': 'mmdet',
           'onedl-mmsegmentation': 'mmsegmentation', 'onedl-mmpretrain': 'mmpretrain'}

#: torch / torchvision / numpy per stack: the pinned stack (tools/install_env.sh) and the OneDL
#: cell (the newest torch onedl-mmcv 2.3.6 declares: ``torch>=2.4``, no upper bound; this
#: machine's pip constraint caps it at 2.14.1).
OTHERS: Dict[str, Tested] = {
    'torch': Tested('2.13.0', '2.14.1', '>=2.0'),
    'torchvision': Tested('0.28.0', '0.29.1', ''),
    'numpy': Tested('1.26.4', '2.4.6', ''),
}

#: exact pins of each installed stack (the scripts install these; the matrix cells run them)
PINNED_STACK: Dict[str, str] = {
    'torch': '2.13.0', 'torchvision': '0.28.0', 'mmengine': '0.10.7', 'mmcv': '2.1.0',
    'mmdet': '3.3.0', 'mmsegmentation': '1.2.2', 'mmpretrain': '1.2.0',
}
ONEDL_STACK: Dict[str, str] = {
    'torch': '2.14.1', 'torchvision': '0.29.1', 'numpy': '2.4.6', 'onedl-mmengine': '0.10.12',
    'onedl-mmcv': '2.3.6', 'onedl-mmdetection': '3.5.1', 'onedl-mmsegmentation': '1.4.2',
    'onedl-mmpretrain': '1.3.6',
}
#: the extra mmengine releases of the matrix, each over the rest of the pinned stack
MMENGINE_CELLS: Tuple[str, ...] = ('0.10.4', '0.10.5', '0.10.6')

#: requirements/<name>.txt: header comment and the distributions it lists (``requires``);
#: tools.txt and tests.txt are hand-written (no version ranges)
REQUIREMENT_FILES: Dict[str, Tuple[str, List[str]]] = {
    'runtime': ('What `pip install -e .` installs (install_requires): only what repl_mm imports '
                'and cannot break\nin an existing OpenMMLab or OneDL environment. mmengine is '
                'not here: OneDL\'s onedl-mmengine\nprovides the same module under another '
                'name, and pip would install OpenMMLab\'s over it.\ntorch, torchvision, mmcv and '
                'mmengine are never installed, upgraded or downgraded by it: see\n'
                'requirements/mminstall.txt.', ['numpy']),
    'mminstall': ('The compiled stack, which pip must not touch in an environment that already '
                  'has it\n(OpenMMLab\'s convention). In a fresh environment: install torch for '
                  'your CUDA first, then\nmmcv 2.1.0 (`mim install mmcv==2.1.0`, or a source '
                  'build; tools/install_env.sh shows how),\nor `pip install -e ".[mim]"`. mmdet '
                  '3.3 and mmseg 1.2.2 refuse mmcv >= 2.2. OneDL\'s fork:\n'
                  'docs/compatibility.md.', ['mmcv', 'mmengine']),
    'toolboxes': ('The toolboxes repl_mm plugs into (each optional: repl_mm registers into the '
                  'installed ones).',
                  ['mmdet', 'mmsegmentation', 'mmpretrain', 'pycocotools', 'ftfy', 'regex']),
}
GENERATED = '# Generated from repl_mm/version.py (python repl_mm/version.py requirements --write).'


def requirement(dist: str) -> str:
    """``dist`` with its pip specifier, e.g. ``mmengine>=0.10.4,<1.0.0`` (a distribution
    without a range here, e.g. ``pycocotools``: the bare name)."""
    table = {**OPENMMLAB, **ONEDL, **OTHERS}
    return dist + (table[dist].requires if dist in table else '')


def requirement_text(name: str) -> str:
    """The content of ``requirements/<name>.txt`` for a generated file."""
    header, dists = REQUIREMENT_FILES[name]
    comment = '\n'.join('# ' + line for line in header.split('\n'))
    return f'{GENERATED}\n{comment}\n' + ''.join(requirement(d) + '\n' for d in dists)


def pins(stack: str) -> List[str]:
    """``dist==version`` lines of ``stack`` (``pinned`` or ``onedl``)."""
    table = {'pinned': PINNED_STACK, 'onedl': ONEDL_STACK}.get(stack)
    if table is None:
        raise ValueError(f'stack: {stack!r} is not one of pinned, onedl')
    return [f'{d}=={v}' for d, v in table.items()]


def tested_range(dist: str) -> Tested:
    """The :class:`Tested` entry of ``dist`` (either distribution family, torch, numpy)."""
    table = {**OPENMMLAB, **ONEDL, **OTHERS}
    if dist not in table:
        raise KeyError(f'dist: {dist!r} has no tested range; known: {", ".join(table)}')
    return table[dist]


def main(argv: List[str]) -> int:
    """``pins pinned|onedl``: one pin a line; ``mmengine-cells``; ``requirements [--write]``:
    print (or write) the generated requirements files."""
    import os.path as osp
    if argv[:1] == ['pins'] and len(argv) == 2:
        print('\n'.join(pins(argv[1])))
    elif argv == ['mmengine-cells']:
        print('\n'.join(MMENGINE_CELLS))
    elif argv[:1] == ['requirements']:
        root = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'requirements')
        for name in REQUIREMENT_FILES:
            if '--write' in argv:
                with open(osp.join(root, f'{name}.txt'), 'w') as f:
                    f.write(requirement_text(name))
            else:
                print(f'== requirements/{name}.txt\n{requirement_text(name)}')
    else:
        print('usage: python repl_mm/version.py pins pinned|onedl | mmengine-cells | '
              'requirements [--write]', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
