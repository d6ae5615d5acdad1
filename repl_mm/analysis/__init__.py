"""What RepL costs and saves, measured and predicted (paper §IV-B, §IV-D, §V-B eq. 42-58).

The modules depend one way, ``counters``/``timing`` -> ``cost_model`` -> the benchmark
modules -> ``report`` (``specs`` beside them), one job a module:

* :mod:`.counters`: parameters, FLOPs, bytes saved for backward (eq. 42, 53, 58);
* :mod:`.timing`: interleaved repetitions, paired ratios, bootstrap intervals, CUDA peak;
* :mod:`.cost_model`: the analytic model of eq. 42-58 from local per-site measurements
  (:mod:`.closed_forms`, :mod:`.blocks`, :mod:`.sites`, :mod:`.site_timing`);
* :mod:`.specs`: model specs from any mm config or a preset, E2E twins, model building;
* :mod:`.benchmark_options`: :class:`BenchmarkOptions`;
* :mod:`.benchmark_models`: the RepL / E2E variants of a benchmark, one instrumented step;
* :mod:`.train_benchmark`, :mod:`.inference_benchmark`: the training-step and inference
  benchmarks; :mod:`.benchmark`: :func:`run_benchmark`, both on the same models;
* :mod:`.predict`: the plan prediction from the config alone (:func:`predict_plan`);
* :mod:`.train_step`: one mmengine training step of a toolbox model under the counters;
* :mod:`.report`: text output and the number formatters of the tools.
"""
from .benchmark import run_benchmark
from .benchmark_models import backbone_loss, measure_step
from .benchmark_options import BenchmarkOptions
from .blocks import backbone_stages, block_kind, computing_layer_params
from .closed_forms import (
                         basic_block_params,
                         bottleneck_params,
                         eta_basic,
                         eta_vit,
                         flop_ratio_eq55,
                         param_ratio_eq52,
                         vit_block_params,
)
from .cost_model import CostModel
from .counters import (
                         FlopCount,
                         FusedAttentionOnMeta,
                         SavedBytes,
                         SavedTensorCounter,
                         count_elementwise_flops,
                         count_flops,
                         count_saved_bytes,
                         flop_counter,
                         max_abs_diff,
                         num_params,
                         storage_key,
)
from .inference_benchmark import InferenceBenchmark
from .predict import predict_plan
from .report import (
                         PLAN_LEGEND,
                         format_bytes,
                         format_ms,
                         format_plan,
                         format_ratio,
                         format_report,
                         format_si,
                         save_json,
)
from .sites import SiteCost, capture_block_inputs, site_costs
from .specs import PRESETS, REPL_ARGS, ModelSpec, build_model, e2e_twin, load_spec, make_optimizer
from .timing import (
                         CLOCKS,
                         Timing,
                         bootstrap_ci,
                         cuda_peak_memory,
                         interleaved_times,
                         machine_info,
                         paired_ratio,
                         paired_ratios,
                         resolve_clock,
                         synchronize,
)
from .train_benchmark import TrainStepBenchmark
from .train_step import train_step_fn, train_step_saved_bytes, trainable_params

__all__ = [
    # counters
    'FlopCount', 'FusedAttentionOnMeta', 'SavedBytes', 'SavedTensorCounter',
    'count_elementwise_flops', 'count_flops', 'count_saved_bytes', 'flop_counter',
    'max_abs_diff', 'num_params', 'storage_key',
    # timing
    'CLOCKS', 'Timing', 'bootstrap_ci', 'cuda_peak_memory', 'interleaved_times',
    'machine_info', 'paired_ratio', 'paired_ratios', 'resolve_clock', 'synchronize',
    # cost model
    'CostModel', 'SiteCost', 'backbone_stages', 'basic_block_params', 'block_kind',
    'bottleneck_params', 'capture_block_inputs', 'computing_layer_params', 'eta_basic',
    'eta_vit', 'flop_ratio_eq55', 'param_ratio_eq52', 'site_costs', 'vit_block_params',
    # specs
    'PRESETS', 'REPL_ARGS', 'ModelSpec', 'build_model', 'e2e_twin',
    'load_spec', 'make_optimizer',
    # benchmarks, prediction, training steps
    'BenchmarkOptions', 'InferenceBenchmark', 'TrainStepBenchmark', 'backbone_loss',
    'measure_step', 'predict_plan', 'run_benchmark', 'train_step_fn', 'train_step_saved_bytes',
    'trainable_params',
    # report
    'PLAN_LEGEND', 'format_bytes', 'format_ms', 'format_plan', 'format_ratio', 'format_report',
    'format_si', 'save_json',
]
