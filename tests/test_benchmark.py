"""Measurement helpers of repl_mm.benchmark: saved-bytes counter, FLOP counters, interleaved
timer, deploy equivalence helper, spec loading."""
import pytest
import torch
from torch import nn

from repl_mm import benchmark as bm


def test_linear_saves_its_input_only():
    lin = nn.Linear(8, 4)
    x = torch.randn(5, 8, requires_grad=True)
    res = bm.count_saved_bytes(lambda: lin(x), lin, {'lin': lin})
    assert res.activation == 5 * 8 * 4          # the input, fp32
    assert res.parameter == 4 * 8 * 4           # the weight: a parameter, not activation
    assert res.synthesis == 0
    assert res.per_module == {'lin': 5 * 8 * 4}
    assert res.num_tensors == 1


def test_unique_storages_counted_once():
    x = torch.randn(10, requires_grad=True)

    def fn():
        y = x * x            # saves x twice
        z = y[2:] * y[:-2]   # saves two views of y: one storage
        return z
    res = bm.count_saved_bytes(fn)
    assert res.activation == 2 * 10 * 4
    assert res.num_tensors == 2


def test_parameter_only_tensors_are_synthesis():
    """A weight computed from parameters alone (like W_hat of eq. 10) is M_aux, not
    activation; it does not grow with the batch."""
    m = nn.Module()
    m.alpha = nn.Parameter(torch.ones(4, 1))
    m.register_buffer('w0', torch.randn(4, 8))

    def fn(n):
        w = m.alpha * m.w0                      # mul saves w0 (a buffer) for alpha's grad
        x = torch.randn(n, 8, requires_grad=True)
        return x @ w.t()                        # saves x (activation) and w (synthesis)
    small, big = (bm.count_saved_bytes(lambda: fn(n), m) for n in (2, 6))
    assert small.synthesis == big.synthesis == 4 * 8 * 4
    assert small.parameter == 4 * 8 * 4
    assert (small.activation, big.activation) == (2 * 8 * 4, 6 * 8 * 4)


def test_stochastic_mask_is_activation():
    """Operators without tensor inputs (random masks) produce batch data."""
    x = torch.randn(3, 5, requires_grad=True)
    res = bm.count_saved_bytes(lambda: x * torch.rand(3, 5))
    assert res.synthesis == 0 and res.activation == 3 * 5 * 4


def test_counter_works_on_meta():
    with torch.device('meta'):
        net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        x = torch.randn(2, 3, 10, 10)
    res = bm.count_saved_bytes(lambda: net(x), net)
    # conv input, BN input, ReLU output, BN mean + invstd
    assert res.activation == (2 * 3 * 100 + 2 * 2 * 8 * 64 + 2 * 8) * 4


def test_flop_counts_and_attribution():
    lin = nn.Linear(8, 4)
    net = nn.Sequential(lin, nn.ReLU(), nn.Linear(4, 2))
    x = torch.randn(5, 8)
    res = bm.count_flops(lambda: net(x), {'first': lin, 'net': net})
    assert res.per_module['first'] == 2 * 5 * 8 * 4
    assert res.total == res.per_module['net'] == 2 * 5 * (8 * 4 + 4 * 2)
    train = bm.count_flops(lambda: net(x).sum().backward()).total
    assert train == res.total + 2 * 5 * 4 * 2 + 2 * (5 * 8 * 4 + 5 * 4 * 2)  # dX of 2nd, dW of both


def test_cpu_attention_is_counted_like_meta():
    q = torch.randn(2, 3, 17, 16)
    cpu = bm.count_flops(lambda: nn.functional.scaled_dot_product_attention(q, q, q)).total
    assert cpu == 4 * 2 * 3 * 17 * 17 * 16
    qm = q.to('meta')
    with bm.FusedAttentionOnMeta():
        meta = bm.count_flops(lambda: nn.functional.scaled_dot_product_attention(qm, qm, qm))
    assert meta.total == cpu


def test_elementwise_flops():
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    assert bm.count_elementwise_flops(lambda: (a * b).sum()) == 12 + 12


def test_interleaved_times_abba_order_and_warmup():
    calls = []
    fns = {k: (lambda k=k: calls.append(k)) for k in 'ab'}
    times = bm.interleaved_times(fns, reps=3, warmup=1)
    assert calls == ['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']
    assert [len(times[k].samples) for k in 'ab'] == [3, 3]
    assert times['a'].q1 <= times['a'].median <= times['a'].q3
    with pytest.raises(ValueError, match='reps'):
        bm.interleaved_times(fns, reps=0)
    with pytest.raises(ValueError, match='warmup'):
        bm.interleaved_times(fns, warmup=-1)


def test_paired_ratio():
    a = bm.Timing.of([2.0, 4.0, 6.0])
    b = bm.Timing.of([1.0, 2.0, 2.0])
    assert bm.paired_ratio(a, b) == 2.0
    with pytest.raises(ValueError):
        bm.paired_ratio(a, bm.Timing.of([1.0]))


def test_max_abs_diff():
    a = (torch.zeros(3), [torch.ones(2)])
    b = (torch.zeros(3), [torch.ones(2) * 1.5])
    assert bm.max_abs_diff(a, b) == 0.5
    with pytest.raises(ValueError, match='structure'):
        bm.max_abs_diff(a, torch.zeros(3))


def test_cuda_peak_memory_needs_cuda():
    with pytest.raises(ValueError, match='CUDA'):
        bm.cuda_peak_memory(lambda: None, 'cpu')


def test_load_spec_preset_and_twin():
    spec = bm.load_spec('resnet32-cifar', {'model.backbone.interval': 3})
    assert spec.scope == 'mmpretrain' and spec.input_size == (32, 32)
    assert spec.model['backbone'] == dict(type='CifarResNetRepL', depth=32, interval=3)
    twin = bm.e2e_twin(spec)
    assert twin.model['backbone'] == dict(type='CifarResNet', depth=32)
    assert bm.load_spec('resnet32-cifar', input_size=[8]).input_size == (8, 8)
    with pytest.raises(ValueError, match='neither a config file nor a preset'):
        bm.load_spec('no-such-model')
    with pytest.raises(ValueError, match='not a RepL backbone'):
        bm.e2e_twin(twin)


def test_load_spec_config_file_infers_size_scope_optimizer():
    spec = bm.load_spec('configs/resnet34_repl_imagenet.py')
    assert (spec.scope, spec.input_size, spec.optimizer) == ('mmpretrain', (224, 224), 'SGD')


def test_options_are_validated():
    with pytest.raises(ValueError, match='scopes'):
        bm.BenchmarkOptions(scopes=('head',)).check()
    with pytest.raises(ValueError, match='batch_size'):
        bm.BenchmarkOptions(batch_size=0).check()
    with pytest.raises(ValueError, match='device'):
        bm.BenchmarkOptions(device='tpu').check()


def test_bootstrap_ci_and_clock():
    assert bm.bootstrap_ci([1.0] * 5) == (1.0, 1.0)
    values = [0.9, 1.0, 1.1, 0.95, 1.05, 1.2, 0.8]
    lo, hi = bm.bootstrap_ci(values)
    assert lo <= 1.0 <= hi and lo >= 0.8 and hi <= 1.2
    assert bm.resolve_clock('auto', 'cpu') == 'cpu'
    assert bm.resolve_clock('auto', 'cuda') == 'wall'
    with pytest.raises(ValueError, match='clock'):
        bm.resolve_clock('sundial', 'cpu')
    with pytest.raises(ValueError, match="use 'wall'"):
        bm.resolve_clock('cpu', 'cuda')
    assert bm.paired_ratios(bm.Timing.of([2.0, 3.0]), bm.Timing.of([1.0, 3.0])) == [2.0, 1.0]
