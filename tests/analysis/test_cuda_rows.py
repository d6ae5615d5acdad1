"""repl_mm.analysis.cuda_rows: the GPU benchmark rows of tools/gpu_check.sh (issue 24 item 5),
checked on CPU: the out-of-memory fallback keeps E2E and RepL at one batch, the markdown holds
measured, predicted and paper ratios, and a real (tiny) row measures on CPU."""
import pytest
import torch

from repl_mm.analysis import cuda_rows


def test_oom_halves_the_batch_for_both_models():
    seen = []

    def fake_measure(spec, batch, device, reps, warmup):
        seen.append(batch)
        if batch > 256:
            raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate')
        return dict(peak_bytes=batch * (3 if 'repl' in spec.source else 4) * 2**20,
                    step_ms=10.0 if 'repl' in spec.source else 12.5)
    row = dict(cuda_rows.ROWS[0])
    out = cuda_rows.measure_row(row, 'cpu', measure=fake_measure)
    assert out['batch'] == 256 and out['paper_batch'] == 1024
    assert seen == [1024, 512, 256, 256]  # E2E fails twice, then E2E and RepL at 256
    assert out['notes'] == ['batch 1024 ran out of memory', 'batch 512 ran out of memory']
    assert out['peak_bytes_ratio'] == pytest.approx(0.75)
    assert out['step_ms_ratio'] == pytest.approx(0.8)
    assert out['paper']['mem_ratio'] == pytest.approx(7.62 / 9.31)
    assert 0 < out['predicted']['activation'] < 1  # eq. 58: RepL stores less


def test_other_errors_are_not_taken_for_oom():
    def broken(spec, batch, device, reps, warmup):
        raise RuntimeError('mat1 and mat2 shapes cannot be multiplied')
    with pytest.raises(RuntimeError, match='shapes'):
        cuda_rows.measure_row(dict(cuda_rows.ROWS[0]), 'cpu', measure=broken)


def test_markdown_has_environment_ratios_and_failures():
    rows = [dict(key='a', label='ResNet-110, CIFAR-10 (Table I)', batch=512, paper_batch=1024,
                 e2e=dict(peak_bytes=2 * 2**30, step_ms=20.0),
                 repl=dict(peak_bytes=1.5 * 2**30, step_ms=16.0), peak_bytes_ratio=0.75,
                 step_ms_ratio=0.8, notes=['batch 1024 ran out of memory'],
                 predicted=dict(activation=0.81, train_flops=0.78),
                 paper=dict(e2e_gb=9.31, repl_gb=7.62, mem_ratio=0.818, e2e_time=26.19,
                            repl_time=20.93, time_ratio=0.799, time_unit='s/epoch')),
            dict(key='b', label='ViT-S/16, ImageNet (Table II)', error='ValueError: boom')]
    md = cuda_rows.format_markdown(rows, dict(gpu='NVIDIA H100 80GB HBM3', driver='580.65',
                                              torch='2.11.0', cuda='13.0', python='3.12',
                                              cpus=16, gpu_memory_gib=79.2))
    assert 'NVIDIA H100 80GB HBM3' in md and 'driver 580.65' in md and 'CUDA 13.0' in md
    assert '| ResNet-110, CIFAR-10 (Table I) | 512 (paper 1024) | 0.750 | 0.810 | 0.818 | ' \
           '0.800 | 0.780 | 0.799 |' in md
    assert '| 2.00 | 1.50 | 9.31 / 7.62 | 20.0 | 16.0 |' in md
    assert 'failed: ValueError: boom' in md


def test_a_row_measures_for_real_on_cpu():
    spec = cuda_rows.load_spec('resnet32-cifar')
    out = cuda_rows.measure_model(spec, 2, 'cpu', reps=2, warmup=1)
    assert out['step_ms'] > 0 and 'peak_bytes' not in out  # no CUDA: no peak memory
    assert cuda_rows.step_times(lambda: None, 3, 0, 'cpu').__len__() == 3


def test_rows_are_handed_over_one_by_one(monkeypatch):
    monkeypatch.setattr(cuda_rows, 'measure_row', lambda row, *a: dict(key=row['key']))
    seen = []
    cuda_rows.run_rows(['resnet110-cifar10', 'vit-s16-imagenet'], 'cpu', 1, 0,
                       log=lambda m: None, on_row=lambda rows: seen.append(len(rows)))
    assert seen == [1, 2]
    with pytest.raises(ValueError, match='unknown'):
        cuda_rows.run_rows(['resnet-9000'], 'cpu', 1, 0)
