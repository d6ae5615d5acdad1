"""Deployment of trained RepL models (paper §IV-D1e, eq. 32-33, and §IV-D1j).

* :mod:`.fold`: deploy re-parameterization of a whole model / checkpoint (fold the computing
  layers into plain layers), loading a deploy model for inference;
* :mod:`.convert`: a stock end-to-end ResNet checkpoint -> a RepL initialisation;
* :mod:`.export`: ONNX export checked in onnxruntime;
* :mod:`.quantize`: post-training INT8 quantization of deploy-form classifiers;
* :mod:`.benchmark`: deploy-form AMP inference rows (Tables XI / XII).

The names of :mod:`.fold` are re-exported here (``from repl_mm.deploy import
reparameterize_checkpoint``); the other modules are imported by name
(``from repl_mm.deploy.export import export_onnx``).
"""
from .fold import (
    DEPLOY_META_KEYS,
    ReparamResult,
    atomic_save,
    build_model_from_config,
    check_output_path,
    check_recorded_plan,
    flatten_tensors,
    folded_plan,
    load_checkpoint_file,
    load_deploy_model,
    max_relative_difference,
    model_input_shape,
    reparameterize_checkpoint,
    switch_model_to_deploy,
    tensor_outputs,
)

__all__ = ['DEPLOY_META_KEYS', 'ReparamResult', 'atomic_save', 'build_model_from_config',
           'check_output_path', 'check_recorded_plan', 'flatten_tensors', 'folded_plan',
           'load_checkpoint_file', 'load_deploy_model', 'max_relative_difference',
           'model_input_shape', 'reparameterize_checkpoint', 'switch_model_to_deploy',
           'tensor_outputs']
