import pytest
import torch

from repl_mm.core.synthesis import SynthesisCoefficients, normalize_rows, stop_gradient


def test_normalize_rows_eq9():
    w = torch.randn(8, 4, 3, 3)
    n = normalize_rows(w, eps=0.0)
    assert torch.allclose(n.flatten(1).norm(dim=1), torch.ones(8), atol=1e-6)
    eps = 1e-5
    expected = w[2] / torch.sqrt((w[2] ** 2).sum() + eps)
    assert torch.allclose(normalize_rows(w, eps)[2], expected, atol=1e-7)
    lin = torch.randn(6, 10)   # eq. 22: rows of a linear weight
    assert torch.allclose(normalize_rows(lin, 0.0).norm(dim=1), torch.ones(6), atol=1e-6)


def test_stop_gradient():
    w = torch.randn(3, requires_grad=True)
    assert not stop_gradient(w, True).requires_grad
    assert stop_gradient(w, False) is w


def test_channelwise_eq10():
    c = SynthesisCoefficients(4)
    with torch.no_grad():
        c.alpha.copy_(torch.tensor([1., 2., 3., 4.]))
        c.beta.copy_(torch.tensor([.5, .5, 0., -1.]))
    a, b = torch.randn(4, 2, 3, 3), torch.randn(4, 2, 3, 3)
    out = c(a, b, dim=0)
    for i in range(4):
        assert torch.allclose(out[i], c.alpha[i] * a[i] + c.beta[i] * b[i])
    assert sum(p.numel() for p in c.parameters()) == 8


def test_groupwise_along_columns_eq22():
    c = SynthesisCoefficients(3)   # 3 heads of 2 columns each
    with torch.no_grad():
        c.alpha.copy_(torch.tensor([1., 2., 3.]))
        c.beta.zero_()
    w = torch.ones(5, 6)
    out = c(w, torch.zeros(5, 6), dim=1)
    assert out[0].tolist() == [1., 1., 2., 2., 3., 3.]


def test_variants_and_counts():
    w1, w2 = torch.randn(4, 3), torch.randn(4, 3)
    prev = SynthesisCoefficients(4, neighbours='prev', init_value=2.0)
    assert torch.allclose(prev(w1, None), 2 * w1) and not hasattr(prev, 'beta')
    nxt = SynthesisCoefficients(4, neighbours='next', init_value=3.0)
    assert torch.allclose(nxt(None, w2), 3 * w2) and not hasattr(nxt, 'alpha')
    shared = SynthesisCoefficients(4, coefficients='shared', init_value=0.25)
    assert torch.allclose(shared(w1, w2), 0.25 * w1 + 0.75 * w2)
    assert [sum(p.numel() for p in m.parameters()) for m in (prev, nxt, shared)] == [4, 4, 4]


@pytest.mark.parametrize('kwargs,match', [
    (dict(neighbours='left'), r"neighbours must be one of \('both', 'prev', 'next', 'none'\)"),
    (dict(coefficients='one'), r"coefficients must be one of \('separate', 'shared', 'fixed'\)"),
    (dict(neighbours='prev', coefficients='shared'), "needs neighbours='both'"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SynthesisCoefficients(4, **kwargs)
