"""ONNX export of deploy-form models (onnxruntime vs PyTorch <= 1e-4), the INT8 tool end to
end on a tiny set, and the AMP inference rows."""
import os.path as osp
import re

import pytest
import torch
from repl_deploy_configs import ROOT, cls_config, det_config, make_checkpoints, seg_config
from repl_deploy_tiny import RESNET34_BACKBONE, VIT_BACKBONE, build, classifier_cfg, trained_like

from repl_mm.deploy.benchmark import amp_dtypes, amp_inference_rows
from repl_mm.testing.tools import load_tool

ONNX_TOOL = osp.join(ROOT, 'tools', 'deployment', 'pytorch2onnx.py')
QUANT_TOOL = osp.join(ROOT, 'tools', 'deployment', 'quantize.py')


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _run(tool, *args, capsys=None):
    """The tool's ``main`` in this process (saves the imports of a subprocess)."""
    module = load_tool(tool)
    capsys.readouterr()
    code = module.main([str(a) for a in args])
    out = capsys.readouterr()
    return _Result(code, out.out, out.err)


def _diffs(stdout):
    return [float(v) for v in re.findall(r'onnxruntime vs PyTorch ([\d.e+-]+)', stdout)]


@pytest.mark.parametrize('kind', ['cls', 'vit', 'det', 'seg'])
def test_onnx_export_matches_pytorch(tmp_path, kind, capsys):
    pytest.importorskip('onnxruntime')
    if kind == 'cls':
        config, size = cls_config(tmp_path), (32,)
    elif kind == 'vit':
        config, size = cls_config(tmp_path, VIT_BACKBONE), (32,)
    elif kind == 'det':
        config, size = det_config(tmp_path), (64,)
    else:
        config, size = seg_config(tmp_path), (32, 64)
    train, _ = make_checkpoints(config, tmp_path, size=(size * 2)[:2])
    out = tmp_path / 'model.onnx'
    res = _run(ONNX_TOOL, config, train, out, '--input-size', *size, '--batch', 2,
               capsys=capsys)
    assert res.returncode == 0, res.stderr[-3000:]
    diffs = _diffs(res.stdout)
    assert diffs and max(diffs) <= 1e-4, res.stdout
    n_out = {'cls': 2, 'vit': 2, 'det': 10, 'seg': 1}[kind]
    assert len(diffs) == n_out, res.stdout          # RetinaNet: 5 levels x (cls, box)
    import onnx
    graph = onnx.load(str(out)).graph
    assert not any(n.op_type in ('NonMaxSuppression', 'TopK') for n in graph.node)
    # refuses to overwrite without --force
    again = _run(ONNX_TOOL, config, train, out, capsys=capsys)
    assert again.returncode != 0 and '--force' in again.stderr


def test_int8_tool_end_to_end(tmp_path, capsys):
    repl_config = cls_config(tmp_path)
    _, repl_ckpt = make_checkpoints(repl_config, tmp_path)
    e2e_config = cls_config(tmp_path, dict(type='ResNet', depth=34, stem_channels=16,
                                           base_channels=16))
    e2e_ckpt, _ = make_checkpoints(e2e_config, tmp_path)
    res = _run(QUANT_TOOL, repl_config, repl_ckpt, '--calib-batches', 2, '--latency-batch', 2,
               '--repeat', 2, '--e2e', e2e_config, e2e_ckpt, '--name', 'R34-q', capsys=capsys)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [line for line in res.stdout.splitlines() if line.startswith('| R34-q')]
    assert [r.split('|')[2].strip() for r in rows] == ['E2E', 'RepL']
    cells = [c.strip() for c in rows[1].split('|')[1:-1]]
    assert cells[2] == 'int8_fx_static'
    fp1, fp5, q1, q5 = map(float, cells[3:7])
    for acc in (fp1, fp5, q1, q5):               # 12 test images: multiples of 100/12
        assert 0 <= acc <= 100 and abs(acc * 12 / 100 - round(acc * 12 / 100)) < 1e-2
    assert float(cells[7]) == pytest.approx(q1 - fp1, abs=2e-3)
    assert all(float(c) > 0 for c in cells[9:13])


def test_int8_dynamic_linear_on_vit(tmp_path):
    from repl_mm.deploy.quantize import default_scheme, quantize_classifier
    x = torch.randn(4, 3, 32, 32)
    model = trained_like(build('mmpretrain', classifier_cfg(VIT_BACKBONE)), x)
    model.backbone.switch_to_deploy()
    assert default_scheme(model) == 'int8_dynamic_linear'
    q = quantize_classifier(model, 'int8_dynamic_linear')
    names = {type(m).__name__ for m in q.modules()}
    assert 'DynamicQuantizedLinear' in names or 'Linear' in {
        type(m).__name__ for m in q.modules() if 'quantized' in type(m).__module__}
    with torch.no_grad():
        ref, got = model(x, mode='tensor'), q(x)
    assert got.shape == ref.shape
    assert ((got - ref).abs().max() / ref.abs().max()).item() < 0.1   # INT8, not equal


def test_amp_inference_rows():
    model = build('mmpretrain', classifier_cfg(VIT_BACKBONE)).eval()
    model.backbone.switch_to_deploy()
    x = torch.randn(2, 3, 32, 32)
    rows = amp_inference_rows(model, x, lambda m, inp: m(inp, mode='tensor'), warmup=1,
                              repeat=2)
    assert amp_dtypes(torch.device('cpu')) == [torch.bfloat16]
    assert [r.precision for r in rows] == ['fp32', 'amp-bf16']
    assert rows[0].max_rel_diff_to_fp32 == 0.0
    assert 0 < rows[1].max_rel_diff_to_fp32 < 0.1       # bf16 has 8 mantissa bits
    assert all(r.ms_per_img > 0 and r.imgs_per_s > 0 for r in rows)


@pytest.mark.parametrize('kind', ['resnet', 'vit'])
def test_int8_is_close_to_fp32_for_e2e_and_repl(kind):
    """issue 23 item 4: INT8 vs FP32 logits on a fixed batch -- top-1 agreement and a relative
    error bound -- for the E2E model and the deploy-form RepL model alike, both timed."""
    from repl_mm.deploy.quantize import (
        ClassifierLogits,
        int8_closeness,
        latency_ms_per_img,
        quantize_classifier,
    )
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, 32, 32, generator=g)
    calib = [torch.randn(8, 3, 32, 32, generator=g) for _ in range(4)]
    if kind == 'vit':
        repl_bb, scheme = VIT_BACKBONE, 'int8_dynamic_linear'
        e2e_bb = dict(VIT_BACKBONE, interval=None)   # nothing removed: the stock ViT
    else:
        repl_bb, scheme = RESNET34_BACKBONE, 'int8_fx_static'
        e2e_bb = {k: v for k, v in RESNET34_BACKBONE.items() if k != 'replace_blocks'}
        e2e_bb['type'] = 'ResNet'
    rows = {}
    for method, bb in (('E2E', e2e_bb), ('RepL', repl_bb)):
        model = trained_like(build('mmpretrain', classifier_cfg(bb)), x)
        if method == 'RepL':
            model.backbone.switch_to_deploy()
        fp32 = ClassifierLogits(model).eval()
        int8 = quantize_classifier(model, scheme, calib)
        agree, err = int8_closeness(fp32, int8, x)
        rows[method] = (agree, err, latency_ms_per_img(fp32, x, repeat=2),
                        latency_ms_per_img(int8, x, repeat=2))
        assert agree >= BOUNDS[kind][0], (method, agree, err)
        assert err <= BOUNDS[kind][1], (method, agree, err)
        assert rows[method][2] > 0 and rows[method][3] > 0
    # a wrong INT8 model fails the check (it can fail): another model's quantized logits
    other = trained_like(build('mmpretrain', classifier_cfg(repl_bb)), x, seed=7)
    if hasattr(other.backbone, 'switch_to_deploy'):
        other.backbone.switch_to_deploy()
    _, bad = int8_closeness(fp32, quantize_classifier(other, scheme, calib), x)
    assert bad > BOUNDS[kind][1]


#: (min top-1 agreement, max relative logit error) of INT8 vs FP32 on the fixed batch
BOUNDS = {'resnet': (0.75, 0.15), 'vit': (0.9, 0.05)}
