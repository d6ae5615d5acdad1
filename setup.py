from setuptools import find_packages, setup

setup(
    name='repl_mm',
    version='0.1.0',
    description='Replacement Learning (RepL) backbones for mmdet, mmsegmentation and mmpretrain',
    packages=find_packages(include=['repl_mm', 'repl_mm.*']),
    python_requires='>=3.9',
    install_requires=['torch', 'mmengine>=0.10.7', 'mmcv>=2.0.0,<2.2.0'],
)
