"""The causal Transformer LM of paper §IV-D1d and its RepL form: the removal plan (K = 4 over
12 layers -> blocks 3, 7), eq. 50's parameter count, causality (E2E, RepL, deploy), deploy
equivalence (eq. 33) and the mmengine modes."""
import pytest
import torch

from repl_mm.core.vit import ViTComputingLayer, transformer_block_parts
from repl_mm.models.transformer_lm import (
    IGNORE_INDEX,
    CausalTransformerBlock,
    TransformerLM,
    TransformerLMRepL,
)

V, D, H, FF = 50, 32, 4, 64


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run many times faster on one thread on a loaded 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

TINY = dict(vocab_size=V, embed_dims=D, num_heads=H, feedforward_channels=FF, max_len=16)


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def block_params(d: int, ff: int) -> int:
    """P_r of one pre-norm block (eq. 49 exactly): two LayerNorms, qkv, proj, two FFN
    linears, with biases."""
    return 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * ff + ff) + (ff * d + d)


def test_blocks_expose_the_mmpretrain_part_names():
    block = CausalTransformerBlock(D, H, FF)
    parts = transformer_block_parts(block)
    assert parts.ln1 is block.ln1 and parts.ln2 is block.ln2
    assert parts.proj is block.attn.proj
    assert parts.fc1 is block.ffn[0] and parts.fc2 is block.ffn[3]
    assert sum(p.numel() for p in block.parameters()) == block_params(D, FF)


@pytest.mark.parametrize('head_wise, per_site', [(False, 2), (True, 2 * H)])
def test_repl_plan_and_eq50_parameters(head_wise, per_site):
    torch.manual_seed(0)
    e2e = TransformerLM(**TINY)
    repl = TransformerLMRepL(**TINY, head_wise=head_wise)
    assert repl.removed_blocks == [3, 7]  # K = 4 over 12 layers, like ViT-RepL (eq. 16)
    assert [i for i, m in enumerate(repl.layers) if isinstance(m, ViTComputingLayer)] == [3, 7]
    # eq. 42/50: each removed block's parameters go, each computing layer adds 2 (or 2H)
    assert trainable(e2e) - trainable(repl) == 2 * (block_params(D, FF) - per_site)
    # embedding, output layer, final norm and retained blocks are unchanged
    expected_e2e = V * D + (D * V + V) + 2 * D + 12 * block_params(D, FF)
    assert trainable(e2e) == expected_e2e
    tied = TransformerLM(**TINY, tie_weights=True)
    assert trainable(tied) == expected_e2e - V * D
    assert TransformerLMRepL(**TINY, interval=None).removed_blocks == []
    assert trainable(TransformerLMRepL(**TINY, interval=None)) == expected_e2e
    assert trainable(TransformerLMRepL(**TINY, remove_only=True)) == \
        expected_e2e - 2 * block_params(D, FF)


def test_paper_size_parameter_rows():
    """Transformer-LM-12L-512d-8H-2048ff: P_r = 3,152,384 (eq. 49 with biases and norms);
    RepL removes 2 blocks and adds 2 x 2 coefficients (eq. 50)."""
    assert block_params(512, 2048) == 3_152_384
    model = TransformerLMRepL(vocab_size=100, interval=4)
    e2e_blocks = 12 * 3_152_384
    assert trainable(model) == 100 * 512 + (512 * 100 + 100) + 2 * 512 + e2e_blocks \
        - 2 * 3_152_384 + 4


def test_bad_options_are_named():
    with pytest.raises(ValueError, match='replace_blocks'):
        TransformerLMRepL(**TINY, replace_blocks=[3, 4])
    with pytest.raises(ValueError, match='replace_blocks must be a flat list'):
        TransformerLMRepL(**TINY, replace_blocks=[[3]])
    with pytest.raises(ValueError, match='interval'):
        TransformerLMRepL(**TINY, interval=1)
    with pytest.raises(ValueError, match='neighbours'):
        TransformerLMRepL(**TINY, neighbours='left')
    with pytest.raises(ValueError, match='synthesis_branches'):
        TransformerLMRepL(**TINY, synthesis_branches=('ffn',))
    with pytest.raises(ValueError, match='vocab_size'):
        TransformerLM(embed_dims=D, num_heads=H)
    with pytest.raises(ValueError, match='divisible'):
        TransformerLM(vocab_size=V, embed_dims=30, num_heads=4)
    with pytest.raises(ValueError, match='max_len'):
        TransformerLM(**TINY)(torch.zeros(1, 17, dtype=torch.long))


def _perturb_coefficients(model) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'synthesis' in name:
                p.add_(torch.randn_like(p) * 0.3)


def _models():
    torch.manual_seed(0)
    e2e = TransformerLM(**TINY)
    repl = TransformerLMRepL(**TINY, head_wise=True)
    _perturb_coefficients(repl)
    deploy = TransformerLMRepL(**TINY, head_wise=True, deploy=True)
    repl.eval()
    folded = TransformerLMRepL(**TINY, head_wise=True)
    folded.load_state_dict(repl.state_dict())
    folded.switch_to_deploy()
    deploy.load_state_dict(folded.state_dict(), strict=True)
    return {'e2e': e2e, 'repl': repl, 'deploy': deploy}


@pytest.mark.parametrize('name', ['e2e', 'repl', 'deploy'])
def test_causal_masking(name):
    model = _models()[name].eval()
    torch.manual_seed(1)
    tokens = torch.randint(0, V, (2, 12))
    t = 7
    changed = tokens.clone()
    changed[:, t] = (changed[:, t] + 1) % V
    with torch.no_grad():
        a, b = model(tokens), model(changed)
    assert a.shape == (2, 12, V)
    # changing token t leaves every earlier position's logits unchanged ...
    torch.testing.assert_close(a[:, :t], b[:, :t], rtol=0, atol=1e-6)
    # ... and changes position t and the later ones (the test can fail)
    assert (a[:, t:] - b[:, t:]).abs().amax(dim=-1).min() > 1e-4


def test_deploy_equivalence():
    models = _models()
    repl, deploy = models['repl'].eval(), models['deploy'].eval()
    assert all(m.deploy for m in deploy.layers if isinstance(m, ViTComputingLayer))
    tokens = torch.randint(0, V, (3, 16))
    with torch.no_grad():
        torch.testing.assert_close(deploy(tokens), repl(tokens), rtol=1e-5, atol=1e-5)
    # the deploy layers no longer read the synthesis coefficients
    assert not any('synthesis' in k for k in deploy.state_dict())


def test_modes_loss_and_predict():
    torch.manual_seed(0)
    model = TransformerLMRepL(**TINY).eval()
    data = model.data_preprocessor({'inputs': [torch.randint(0, V, (9,)),
                                               torch.randint(0, V, (5,))]})
    inputs, targets = data['inputs'], data['data_samples']
    assert (targets == IGNORE_INDEX).sum() == 4
    with torch.no_grad():
        logits = model(inputs)
        loss = model(inputs, targets, mode='loss')['loss']
        pred = model(inputs, targets, mode='predict')
    logp = torch.log_softmax(logits.double(), -1)
    nll = [-sum(logp[b, i, targets[b, i]] for i in range(n)) for b, n in ((0, 8), (1, 4))]
    assert [p['num_tokens'] for p in pred] == [8, 4]
    assert pred[0]['nll_sum'] == pytest.approx(float(nll[0]), rel=1e-5)
    assert pred[1]['nll_sum'] == pytest.approx(float(nll[1]), rel=1e-5)
    assert float(loss) == pytest.approx(float((nll[0] + nll[1]) / 12), rel=1e-5)
    with pytest.raises(ValueError, match='data_samples'):
        model(inputs, mode='loss')
    with pytest.raises(ValueError, match='mode'):
        model(inputs, targets, mode='logits')


def test_training_step_gives_coefficient_gradients():
    torch.manual_seed(0)
    model = TransformerLMRepL(**TINY).train()
    data = model.data_preprocessor({'inputs': [torch.randint(0, V, (9,)) for _ in range(2)]})
    model(**data, mode='loss')['loss'].backward()
    layer = model.layers[3]
    assert layer.synthesis.alpha.grad is not None and layer.synthesis.alpha.grad.abs().sum() > 0
    # stop-gradient (eq. 30): the neighbours get gradients only from their own blocks
    assert model.layers[2].attn.proj.weight.grad is not None


def test_benchmark_script_measures_eq50_and_both_models(tmp_path):
    """tools/analysis_tools/benchmark_lm.py: measured parameters equal eq. 50's prediction;
    memory and time rows for both models from one interleaved run."""
    import json

    from repl_mm.testing.tools import load_tool
    tool = load_tool('tools/analysis_tools/benchmark_lm.py')
    out = tmp_path / 'lm.json'
    res = tool.main(['--vocab-size', str(V), '--dims', str(D), '--heads', str(H), '--ff',
                     str(FF), '--seq-len', '16', '--batch', '2', '--reps', '2', '--warmup', '0',
                     '--device', 'cpu', '--json', str(out)])
    e, r = res['rows']['E2E'], res['rows']['RepL']
    assert res['removed_blocks'] == [3, 7]
    assert e['trainable_params'] - r['trainable_params'] == 2 * (block_params(D, FF) - 2)
    assert r['trainable_params'] == r['eq50_predicted_params']
    assert r['saved_synthesis_bytes'] > 0 == e['saved_synthesis_bytes']
    assert 0 < r['saved_activation_bytes'] < e['saved_activation_bytes']
    assert len(e['step_seconds_q1_q3']) == 2 and res['repl_over_e2e_time'] > 0
    assert json.loads(out.read_text())['rows']['RepL']['trainable_params'] == \
        r['trainable_params']
