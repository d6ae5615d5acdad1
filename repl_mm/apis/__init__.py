"""The Python API for users (like ``mmdet.apis`` / ``mmpretrain.apis``): build a RepL model
of any of the three toolboxes from its config, load a checkpoint of either form into it,
convert a stock checkpoint, fold a model for deployment.

* :func:`init_model` (:mod:`.model`): config (+ checkpoint) -> model in eval mode;
* :func:`switch_to_deploy`, :func:`reparameterize` (:mod:`.deploy`): eq. 32-33 on a model /
  a checkpoint file;
* :func:`convert_checkpoint` (:mod:`.convert`): a stock end-to-end ResNet checkpoint -> a RepL
  initialisation.

Example::

    from repl_mm.apis import init_model
    model = init_model('repl_mm::resnet101_repl_imagenet.py', 'epoch_100.pth', deploy=True)
"""
from .convert import convert_checkpoint
from .deploy import reparameterize, switch_to_deploy
from .model import init_model

__all__ = ['init_model', 'switch_to_deploy', 'reparameterize', 'convert_checkpoint']
