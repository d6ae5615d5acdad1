"""repl_mm.analysis.benchmark_options: benchmark options."""
import pytest

from repl_mm.analysis import benchmark_options as runners


def test_options_are_validated():
    with pytest.raises(ValueError, match='scopes'):
        runners.BenchmarkOptions(scopes=('head',)).check()
    with pytest.raises(ValueError, match='batch_size'):
        runners.BenchmarkOptions(batch_size=0).check()
    with pytest.raises(ValueError, match='device'):
        runners.BenchmarkOptions(device='tpu').check()


def test_amp_inference_rows_in_the_benchmark():
    """Tables XI-XII AMP rows: E2E and deploy RepL timed under autocast beside fp32 (bf16 on
    CPU), each with its error to fp32; printed by the report."""
    from repl_mm.analysis import BenchmarkOptions, format_report, load_spec, run_benchmark
    opts = BenchmarkOptions(batch_size=2, reps=2, warmup=1, scopes=('backbone',), amp=True,
                            training=False, clock='wall')
    res = run_benchmark(load_spec('resnet32-cifar'), None, opts, log=lambda s: None)
    row = res['inference']['backbone'][2]
    for name in ('e2e', 'deploy'):
        precisions = [r['precision'] for r in row['amp'][name]]
        assert precisions == ['fp32', 'amp-bf16']
        fp32, bf16 = row['amp'][name]
        assert fp32['max_rel_diff_to_fp32'] == 0.0
        assert 0.0 < bf16['max_rel_diff_to_fp32'] < 0.1  # bf16 has ~3 significant digits
        assert bf16['ms_per_img'] > 0
    assert '  deploy amp-bf16' in format_report(res)
