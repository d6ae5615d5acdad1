"""Inference through the toolboxes' own APIs with a RepL training checkpoint and its deploy
checkpoint, both with the training config: the deploy checkpoint switches the backbone, the
outputs are equal to 1e-5 and the class names come from the checkpoint. A training checkpoint
with a deploy config is refused (CheckpointFormError), never loaded half-way."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from repl_deploy_configs import (
    SHAPES_CLASSES,
    cls_config,
    dataset_meta,
    det_config,
    make_checkpoints,
    seg_config,
)

from repl_mm.core.forms import CheckpointFormError


def _close(a, b, rel=1e-5):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= rel * max(np.abs(a).max(), 1e-12), np.abs(a - b).max()


@pytest.fixture(scope='module')
def cls_case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('cls_inf')
    config = cls_config(tmp)
    train, deploy = make_checkpoints(config, tmp)
    img = sorted(glob.glob(osp.join(str(tmp), 'imagenet', 'val', '*.JPEG')))[0]
    return config, train, deploy, img


def test_mmpretrain_get_model_and_inferencer(cls_case):
    from mmpretrain import ImageClassificationInferencer, get_model
    config, train, deploy, img = cls_case
    classes = dataset_meta(config)['classes']
    x = torch.randn(2, 3, 32, 32)
    logits, scores = {}, {}
    for form, ckpt in (('train', train), ('deploy', deploy)):
        model = get_model(config, pretrained=ckpt, device='cpu')
        assert model.backbone.deploy == (form == 'deploy')
        assert tuple(model._dataset_meta['classes']) == classes   # get_model's attribute
        with torch.no_grad():
            logits[form] = model(x, mode='tensor')
        inferencer = ImageClassificationInferencer(config, pretrained=ckpt, device='cpu')
        result = inferencer(img)[0]
        assert result['pred_class'] == classes[result['pred_label']]
        scores[form] = result['pred_scores']
    _close(logits['train'], logits['deploy'])
    _close(scores['train'], scores['deploy'])
    with pytest.raises(CheckpointFormError, match='reparameterize_model'):
        get_model(config, pretrained=train, device='cpu', backbone=dict(deploy=True))


def _det_outputs(sample):
    inst = sample.pred_instances
    return inst.scores.numpy(), inst.bboxes.numpy(), inst.labels.numpy()


def _same_detections(a, b):
    (sa, ba, la), (sb, bb, lb) = a, b
    assert len(sa) == len(sb) > 0
    order_a, order_b = np.argsort(-sa, kind='stable'), np.argsort(-sb, kind='stable')
    _close(sa[order_a], sb[order_b])
    # boxes: each detection has an equal one (scores of different boxes may tie)
    for s, box, lab in zip(sa, ba, la):
        match = (np.abs(sb - s) <= 1e-5 * sa.max()) & (lb == lab) & \
            (np.abs(bb - box).max(1) <= 1e-3 * max(1.0, np.abs(ba).max()))
        assert match.any(), (s, box, lab)


@pytest.fixture(scope='module')
def det_case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('det_inf')
    config = det_config(tmp)
    train, deploy = make_checkpoints(config, tmp, size=(64, 64))
    img = sorted(glob.glob(osp.join(str(tmp), 'shapes', 'val', '*')))[0]
    return config, train, deploy, img


def test_mmdet_init_detector_and_inferencer(det_case):
    from mmdet.apis import DetInferencer, inference_detector, init_detector
    config, train, deploy, img = det_case
    opts = {'model.test_cfg.score_thr': 0.0}   # random-looking heads: keep every box
    x = torch.randn(1, 3, 64, 64)
    raw, api, inf = {}, {}, {}
    for form, ckpt in (('train', train), ('deploy', deploy)):
        model = init_detector(config, ckpt, device='cpu', cfg_options=opts)
        assert model.backbone.deploy == (form == 'deploy')
        assert tuple(model.dataset_meta['classes']) == SHAPES_CLASSES
        with torch.no_grad():
            raw[form] = [t for level in model(x, mode='tensor') for t in level]
        api[form] = _det_outputs(inference_detector(model, img))
        inferencer = DetInferencer(model=config, weights=ckpt, device='cpu', show_progress=False)
        inferencer.model.test_cfg.score_thr = 0.0
        assert tuple(inferencer.model.dataset_meta['classes']) == SHAPES_CLASSES
        out = inferencer(img, return_datasamples=True, no_save_vis=True)
        inf[form] = _det_outputs(out['predictions'][0])
    for a, b in zip(raw['train'], raw['deploy']):
        _close(a, b)
    _same_detections(api['train'], api['deploy'])
    _same_detections(inf['train'], inf['deploy'])
    with pytest.raises(CheckpointFormError, match='reparameterize_model'):
        init_detector(config, train, device='cpu',
                      cfg_options={'model.backbone.deploy': True})


@pytest.fixture(scope='module')
def seg_case(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('seg_inf')
    config = seg_config(tmp)
    train, deploy = make_checkpoints(config, tmp, size=(32, 64))
    img = sorted(glob.glob(osp.join(str(tmp), 'cityscapes', 'leftImg8bit', 'val', '*',
                                    '*.png')))[0]
    return config, train, deploy, img


def test_mmseg_init_model_and_inferencer(seg_case):
    from mmseg.apis import MMSegInferencer, inference_model, init_model
    config, train, deploy, img = seg_case
    classes = dataset_meta(config)['classes']
    api, inf = {}, {}
    for form, ckpt in (('train', train), ('deploy', deploy)):
        model = init_model(config, ckpt, device='cpu')
        assert model.backbone.deploy == (form == 'deploy')
        assert tuple(model.dataset_meta['classes']) == classes
        api[form] = inference_model(model, img).seg_logits.data.numpy()
        inferencer = MMSegInferencer(model=config, weights=ckpt, device='cpu')
        assert tuple(inferencer.model.dataset_meta['classes']) == classes
        out = inferencer(img, return_datasamples=True)
        inf[form] = out.seg_logits.data.numpy()
    _close(api['train'], api['deploy'])
    _close(inf['train'], inf['deploy'])
    _close(api['train'], inf['train'])
    with pytest.raises(CheckpointFormError, match='reparameterize_model'):
        init_model(config, train, device='cpu', cfg_options={'model.backbone.deploy': True})
