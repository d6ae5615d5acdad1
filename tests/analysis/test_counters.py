"""repl_mm.analysis.counters: the saved-bytes counter (eq. 58), the FLOP counters (eq. 53)
and the deploy equivalence helper (eq. 32-33)."""
import pytest
import torch
from torch import nn

from repl_mm.analysis import counters


def test_linear_saves_its_input_only():
    lin = nn.Linear(8, 4)
    x = torch.randn(5, 8, requires_grad=True)
    res = counters.count_saved_bytes(lambda: lin(x), lin, {'lin': lin})
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
    res = counters.count_saved_bytes(fn)
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
    small, big = (counters.count_saved_bytes(lambda: fn(n), m) for n in (2, 6))
    assert small.synthesis == big.synthesis == 4 * 8 * 4
    assert small.parameter == 4 * 8 * 4
    assert (small.activation, big.activation) == (2 * 8 * 4, 6 * 8 * 4)


def test_stochastic_mask_is_activation():
    """Operators without tensor inputs (random masks) produce batch data."""
    x = torch.randn(3, 5, requires_grad=True)
    res = counters.count_saved_bytes(lambda: x * torch.rand(3, 5))
    assert res.synthesis == 0 and res.activation == 3 * 5 * 4


def test_counter_works_on_meta():
    with torch.device('meta'):
        net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        x = torch.randn(2, 3, 10, 10)
    res = counters.count_saved_bytes(lambda: net(x), net)
    # conv input, BN input, ReLU output, BN mean + invstd
    assert res.activation == (2 * 3 * 100 + 2 * 2 * 8 * 64 + 2 * 8) * 4


def test_flop_counts_and_attribution():
    lin = nn.Linear(8, 4)
    net = nn.Sequential(lin, nn.ReLU(), nn.Linear(4, 2))
    x = torch.randn(5, 8)
    res = counters.count_flops(lambda: net(x), {'first': lin, 'net': net})
    assert res.per_module['first'] == 2 * 5 * 8 * 4
    assert res.total == res.per_module['net'] == 2 * 5 * (8 * 4 + 4 * 2)
    train = counters.count_flops(lambda: net(x).sum().backward()).total
    assert train == res.total + 2 * 5 * 4 * 2 + 2 * (5 * 8 * 4 + 5 * 4 * 2)  # dX of 2nd, dW of both


def test_cpu_attention_is_counted_like_meta():
    q = torch.randn(2, 3, 17, 16)
    cpu = counters.count_flops(lambda: nn.functional.scaled_dot_product_attention(q, q, q)).total
    assert cpu == 4 * 2 * 3 * 17 * 17 * 16
    qm = q.to('meta')
    with counters.FusedAttentionOnMeta():
        meta = counters.count_flops(lambda: nn.functional.scaled_dot_product_attention(qm, qm, qm))
    assert meta.total == cpu


def test_elementwise_flops():
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    assert counters.count_elementwise_flops(lambda: (a * b).sum()) == 12 + 12


def test_max_abs_diff():
    a = (torch.zeros(3), [torch.ones(2)])
    b = (torch.zeros(3), [torch.ones(2) * 1.5])
    assert counters.max_abs_diff(a, b) == 0.5
    with pytest.raises(ValueError, match='structure'):
        counters.max_abs_diff(a, torch.zeros(3))
