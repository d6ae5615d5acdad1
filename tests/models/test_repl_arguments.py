"""Drop-in fidelity of every stock argument where RepL removes blocks (issue 27).

Each case builds the stock backbone and its RepL form with the same arguments, calls
``init_weights`` on both, and checks that every retained module got exactly what the stock
backbone gave it: state-dict values, ``requires_grad``, train/eval modes after ``.train()``,
module types and reprs (dcn, plugins, dilations, strides), forward hooks and ``with_cp``. Each
computing layer is checked against the stock block it replaces: its norm's type, initial
values, ``requires_grad`` and mode, its ``with_cp``, dilation and drop-path rate (README "RepL
arguments").

"Under the same seed": the stock backbone and the RepL backbone draw different numbers of
random values (the removed blocks are not initialised in RepL), so one global seed cannot give
equal tensors. ``keyed_rng`` makes every in-place random initialiser (``normal_``,
``uniform_``, which Kaiming, Xavier, trunc-normal and torch's defaults use) draw from a
generator seeded by the tensor's shape and the initialiser's arguments: a retained tensor gets
the same values in both models iff the same initialiser with the same arguments ran on it.
"""
import copy
import inspect
import zlib

import pytest
import torch
from mmdet.registry import MODELS as DET
from mmpretrain.registry import MODELS as CLS
from mmseg.registry import MODELS as SEG
from torch import nn

from repl_mm.core import ComputingLayer

SCOPES = {'mmdet': DET, 'mmseg': SEG, 'mmpretrain': CLS}
SMALL = dict(base_channels=8)  # tiny widths: every argument here is independent of width
# ResNet-34 (BasicBlock) loses a block in every stage; ResNet-50 (Bottleneck) in the two
# stages the transition rule allows (block 1 of a Bottleneck stage cannot go).
PLANS = {34: [[1], [1], [1, 3], [1]], 50: [[], [2], [2, 4], []]}
FAMILIES = {'ResNetRepL': {}, 'ResNetV1cRepL': dict(deep_stem=True, avg_down=False),
            'ResNetV1dRepL': dict(deep_stem=True, avg_down=True)}


@pytest.fixture(autouse=True)
def keyed_rng(monkeypatch):
    """Every ``Tensor.normal_`` / ``uniform_`` draws from a generator seeded by (shape,
    arguments) (see the module docstring)."""
    for name in ('normal_', 'uniform_'):
        orig = getattr(torch.Tensor, name)

        def keyed(self, *args, _orig=orig, _name=name, **kwargs):
            kwargs.pop('generator', None)
            key = repr((_name, tuple(self.shape), args, sorted(kwargs.items())))
            g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
            return _orig(self, *args, generator=g, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, keyed)


def accepts(registry, type_name, arg):
    cls = registry.get(type_name)
    return any(arg in inspect.signature(c.__init__).parameters for c in cls.__mro__
               if '__init__' in c.__dict__)


def removed_prefixes(repl):
    if hasattr(repl, 'res_layers'):
        return [f'{name}.{i}' for name, removed in zip(repl.res_layers, repl.removal_plan)
                for i in removed]
    return [f'layers.{i}' for i in repl.removed_blocks]


def _kept(name, prefixes):
    return not any(name == p or name.startswith(p + '.') for p in prefixes)


def _module(root, name):
    for part in name.split('.'):
        root = root._modules[part]
    return root


def assert_same_retained(stock, repl):
    """The retained modules of ``repl`` equal the same modules of ``stock``; returns the
    removed prefixes."""
    gone = removed_prefixes(repl)
    assert gone, 'the plan must remove blocks for this check to mean anything'
    s_state = {k: v for k, v in stock.state_dict().items() if _kept(k, gone)}
    r_state = {k: v for k, v in repl.state_dict().items() if _kept(k, gone)}
    assert sorted(s_state) == sorted(r_state)
    differ = [k for k in s_state if not torch.equal(s_state[k], r_state[k])]
    assert not differ, f'retained tensors differ from the stock backbone: {differ[:6]}'
    s_grad = {k: p.requires_grad for k, p in stock.named_parameters() if _kept(k, gone)}
    r_grad = {k: p.requires_grad for k, p in repl.named_parameters() if _kept(k, gone)}
    assert s_grad == r_grad
    s_mods = dict(stock.named_modules())
    for name, m in repl.named_modules():
        if not name or not _kept(name, gone) or name not in s_mods:
            continue
        s = s_mods[name]
        if name.count('.') == 0 and name in getattr(repl, 'res_layers', ()):
            continue  # the stage container itself (RepLStage)
        assert type(m) is type(s), name
        assert m.extra_repr() == s.extra_repr(), name
        assert m.training == s.training, name
        assert getattr(m, 'with_cp', None) == getattr(s, 'with_cp', None), name
        assert len(m._forward_hooks) == len(s._forward_hooks), name
        assert len(m._forward_pre_hooks) == len(s._forward_pre_hooks), name
        if name.count('.') == 1 and name.split('.')[0] in getattr(repl, 'res_layers', ()):
            assert repr(m) == repr(s), name  # a whole retained block: dcn, plugins, ...
    return gone


def _last_norm(block):
    return block.norm3 if hasattr(block, 'conv3') else block.norm2


def assert_computing_layers_follow(stock, repl, gone, init_from_stock=True):
    """Each CNN computing layer got what the stock gave the block it replaces."""
    for name in gone:
        layer, block = _module(repl, name), _module(stock, name)
        if not isinstance(layer, ComputingLayer):
            continue
        s_norm = _last_norm(block)
        assert type(layer.norm) is type(s_norm), name
        if init_from_stock:
            assert torch.equal(layer.norm.weight, s_norm.weight), name
            assert torch.equal(layer.norm.bias, s_norm.bias), name
        assert [p.requires_grad for p in layer.norm.parameters()] == \
            [p.requires_grad for p in s_norm.parameters()], name
        frozen = not block.conv2.weight.requires_grad
        assert all(p.requires_grad != frozen for p in layer.synthesis.parameters()), name
        assert layer.training == block.training and layer.norm.training == s_norm.training
        assert layer.with_cp == block.with_cp, name
        assert layer.dilation == block.conv2.dilation[0], name
        assert layer.padding == block.conv2.padding[0], name
        s_dp = getattr(block, 'drop_path', None)
        if s_dp is not None and not isinstance(s_dp, nn.Identity):
            assert type(layer.drop_path) is type(s_dp)
            assert layer.drop_path.drop_prob == s_dp.drop_prob, name


def build_pair(registry, repl_type, stock_cfg, repl_extra, implied=()):
    """The stock backbone and its RepL form (``implied``: arguments the RepL class sets
    itself, e.g. V1c's ``deep_stem``), both after ``init_weights`` and ``.train()``."""
    torch.manual_seed(0)
    stock = registry.build(copy.deepcopy(stock_cfg))
    torch.manual_seed(0)
    repl_cfg = {k: v for k, v in copy.deepcopy(stock_cfg).items() if k not in implied}
    repl = registry.build(dict(repl_cfg, type=repl_type, **repl_extra))
    gone = removed_prefixes(repl)
    built = {n: m.training for n, m in stock.named_modules() if _kept(n, gone)}
    assert built == {n: m.training for n, m in repl.named_modules()
                     if _kept(n, gone)}  # as built (frozen stages in eval)
    for m in (stock, repl):
        m.init_weights()
        m.train()
    return stock, repl


# --- zero_init_residual: the issue's snippet -------------------------------------------------
@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_issue_snippet_zero_init_residual_resnet50(scope):
    """The issue's snippet, at full width: every stage's first block keeps a zero norm3."""
    m = SCOPES[scope].build(dict(type='ResNetRepL', depth=50, zero_init_residual=True,
                                 interval=4))
    m.init_weights()
    assert m.removal_plan == [[], [], [3], []]
    assert [float(getattr(m, f'layer{i}')[0].norm3.weight.abs().max())
            for i in range(1, 5)] == [0.0] * 4
    assert float(m.layer3[3].norm.weight.abs().max()) == 0.0  # the computing layer too


def _zero_init_cases():
    """ResNetRepL at every interval that removes blocks and both explicit plans; V1c, V1d
    (their stems only differ) at the Bottleneck and the BasicBlock plan."""
    plans = [(34, dict(interval=2)), (34, dict(interval=4)), (50, dict(interval=4)),
             (34, dict(replace_blocks=PLANS[34])), (50, dict(replace_blocks=PLANS[50]))]
    for scope in SCOPES:
        for family in FAMILIES:
            for depth, plan in plans if family == 'ResNetRepL' else plans[3:]:
                yield pytest.param(scope, family, depth, plan,
                                   id=f'{scope}-{family}-r{depth}-{sorted(plan)[0]}')


@pytest.mark.parametrize('scope,family,depth,plan', list(_zero_init_cases()))
@pytest.mark.parametrize('zero', [True, False])
def test_zero_init_residual(scope, family, depth, plan, zero):
    """Every family, BasicBlock and Bottleneck, every interval that removes blocks and explicit
    plans: retained blocks initialised as the stock's, computing layers as the blocks they
    replace (zero norm where the stock zeroes the block's last norm)."""
    if depth == 50 and plan.get('interval') == 4:
        plan = dict(replace_blocks=[[], [], [3], []])  # K=4 at ResNet-50 depth, tiny widths
    registry = SCOPES[scope]
    cfg = dict(type='ResNet', depth=depth, zero_init_residual=zero, **SMALL, **FAMILIES[family])
    stock, repl = build_pair(registry, family, cfg, plan, implied=FAMILIES[family])
    gone = assert_same_retained(stock, repl)
    assert_computing_layers_follow(stock, repl, gone)
    last = [_last_norm(b) for n in repl.res_layers for b in getattr(repl, n)
            if not isinstance(b, ComputingLayer)]
    assert all(bool((n.weight == 0).all()) == zero for n in last)


@pytest.mark.parametrize('scope', list(SCOPES))
@pytest.mark.parametrize('zero', [True, False])
def test_zero_init_residual_cifar_resnet(scope, zero):
    registry = SCOPES[scope]
    cfg = dict(type='CifarResNet', depth=20, zero_init_residual=zero, base_channels=8,
               stem_channels=8)
    stock, repl = build_pair(registry, 'CifarResNetRepL', cfg, dict(interval=2))
    assert repl.removal_plan == [[1], [1], [1]]
    gone = assert_same_retained(stock, repl)
    assert_computing_layers_follow(stock, repl, gone)
    assert all(bool((_module(repl, g).norm.weight == 0).all()) == zero for g in gone)


def test_zero_init_residual_adaptive():
    """Adaptive-RepL keeps every block: all of them initialised as the stock's."""
    cfg = dict(type='ResNet', depth=34, zero_init_residual=True, **SMALL)
    torch.manual_seed(0)
    stock = DET.build(cfg)
    repl = DET.build(dict(cfg, type='ResNetRepL', interval=2, adaptive=True))
    stock.init_weights()
    repl.init_weights()
    for name in stock.res_layers:
        for s, r in zip(getattr(stock, name), getattr(repl, name)):
            assert torch.equal(s.norm2.weight, r.norm2.weight) and not s.norm2.weight.any()
        for layer in getattr(repl, name).computing.values():
            assert not layer.norm.weight.any()


# --- the table: every stock argument at a plan that removes blocks -----------------------
def _pretrained(tmp_path, scope, cfg, prefix):
    """A stock checkpoint of ``cfg`` under ``prefix`` (a detector-style checkpoint)."""
    torch.manual_seed(1)
    src = SCOPES[scope].build(dict(cfg, init_cfg=None))
    src.init_weights()
    with torch.no_grad():
        for p in src.parameters():
            p.add_(torch.rand(p.shape) * 0.1)  # values no init would give
    path = tmp_path / 'stock.pth'
    torch.save({'state_dict': {prefix + k: v for k, v in src.state_dict().items()}}, path)
    return str(path)


#: name -> (arguments, toolboxes, depths). ``PRETRAINED`` is replaced by a checkpoint path.
RESNET_CASES = {
    'init_cfg=Kaiming': (dict(init_cfg=dict(type='Kaiming', layer='Conv2d', mode='fan_in')),
                         None, (50,)),
    'init_cfg=Constant': (dict(init_cfg=[dict(type='Constant', val=0.5, layer='Conv2d'),
                                         dict(type='Constant', val=2.0, layer='_BatchNorm')]),
                          None, (34,)),
    'init_cfg=Pretrained+prefix': (dict(init_cfg=dict(type='Pretrained', checkpoint='PRETRAINED',
                                                      prefix='backbone.')), None, (50,)),
    'pretrained': (dict(pretrained='PRETRAINED'), None, (50,)),
    # ResNet-34's plan has computing layers in every stage: every value reaches them
    **{f'frozen_stages={k}': (dict(frozen_stages=k), None, (34,)) for k in range(-1, 5)},
    'frozen_stages=2 (Bottleneck)': (dict(frozen_stages=2), None, (50,)),
    'norm_eval': (dict(norm_eval=True), None, (50,)),
    'norm_eval+frozen_stages=2': (dict(norm_eval=True, frozen_stages=2), None, (34,)),
    'norm_cfg=BN(requires_grad=False)': (dict(norm_cfg=dict(type='BN', requires_grad=False)),
                                         None, (50,)),
    'norm_cfg=SyncBN': (dict(norm_cfg=dict(type='SyncBN')), None, (50,)),
    'norm_cfg=GN': (dict(norm_cfg=dict(type='GN', num_groups=4)), None, (34, 50)),
    'with_cp': (dict(with_cp=True), None, (34, 50)),
    'dcn': (dict(dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False),
                 stage_with_dcn=(True, False, False, True)), ('mmdet',), (50,)),
    **{f'plugins@{pos}': (dict(plugins=[dict(cfg=dict(type='ContextBlock', ratio=1. / 4),
                                             stages=(True, False, False, True),
                                             position=pos)]), ('mmdet',), (50,))
       for pos in ('after_conv1', 'after_conv2', 'after_conv3')},
    'style=caffe': (dict(style='caffe'), None, (50,)),  # the stride's conv: Bottleneck
    'deep_stem': (dict(deep_stem=True), None, (50,)),
    'avg_down': (dict(avg_down=True), None, (50,)),
    'strides+dilations': (dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)), None, (50,)),
    'multi_grid': (dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), multi_grid=(1, 2, 4)),
                   None, (34,)),
    'contract_dilation': (dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                               contract_dilation=True), None, (50,)),
    'out_indices': (dict(out_indices=(1, 3)), None, (34,)),
    'drop_path_rate': (dict(drop_path_rate=0.2), None, (50,)),
}


def _resnet_cases():
    """Each case in each toolbox whose ``ResNet`` has its arguments."""
    for name, (args, scopes, depths) in RESNET_CASES.items():
        for scope in scopes or SCOPES:
            if not all(accepts(SCOPES[scope], 'ResNet', a) for a in args):
                continue
            for depth in depths:
                yield pytest.param(scope, name, depth, id=f'{scope}-{name}-r{depth}')


@pytest.mark.parametrize('scope,case,depth', list(_resnet_cases()))
def test_resnet_argument_fidelity(scope, case, depth, tmp_path):
    registry = SCOPES[scope]
    args = copy.deepcopy(RESNET_CASES[case][0])
    cfg = dict(type='ResNet', depth=depth, **SMALL, **args)
    pretrained = 'pretrained' in args or 'Pretrained' in repr(args)
    if pretrained:
        ckpt = _pretrained(tmp_path, scope, dict(type='ResNet', depth=depth, **SMALL),
                           'backbone.' if 'init_cfg' in args else '')
        if 'init_cfg' in args:
            cfg['init_cfg']['checkpoint'] = ckpt
        else:
            cfg['pretrained'] = ckpt
    stock, repl = build_pair(registry, 'ResNetRepL', cfg, dict(replace_blocks=PLANS[depth]))
    gone = assert_same_retained(stock, repl)
    assert_computing_layers_follow(stock, repl, gone, init_from_stock=not pretrained)
    if pretrained:  # loaded: the retained blocks hold the checkpoint, not an init
        assert not torch.equal(repl.layer2[0].conv1.weight,
                               registry.build(dict(type='ResNet', depth=depth,
                                                   **SMALL)).layer2[0].conv1.weight)
    with torch.no_grad():  # the same output shapes (SyncBN runs on GPUs only)
        if 'SyncBN' not in case and 'dcn' not in case:
            x = torch.randn(1, 3, 32, 32)
            repl.eval(), stock.eval()  # (mm ResNets' train() returns None)
            assert [o.shape for o in repl(x)] == [o.shape for o in stock(x)]


# --- arguments that cannot mean the same for a computing layer: refused, one line ---------
@pytest.mark.parametrize('arg,extra', [
    ('dcn', dict(dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False),
                 stage_with_dcn=(False, False, True, False))),
    ('plugins', dict(plugins=[dict(cfg=dict(type='ContextBlock', ratio=1. / 4),
                                   stages=(False, True, False, False),
                                   position='after_conv2')])),
])
def test_block_extras_on_a_removed_block_are_refused(arg, extra):
    with pytest.raises(ValueError) as e:
        DET.build(dict(type='ResNetRepL', depth=50, replace_blocks=PLANS[50], **SMALL, **extra))
    msg = str(e.value)
    assert '\n' not in msg and msg.startswith('ResNetRepL: ') and arg in msg
    assert 'replace_blocks' in msg  # the fix
    # the same arguments build where the plan keeps every block of that stage
    plan = [[], [], [2, 4], []] if arg == 'plugins' else [[], [2], [], []]
    repl = DET.build(dict(type='ResNetRepL', depth=50, replace_blocks=plan, **SMALL, **extra))
    assert repl.removal_plan == plan


def test_gn_computing_layers_train_but_refuse_deploy():
    repl = DET.build(dict(type='ResNetRepL', depth=34, replace_blocks=PLANS[34], **SMALL,
                          norm_cfg=dict(type='GN', num_groups=4)))
    x = torch.randn(2, 3, 32, 32)
    repl(x)[0].sum().backward()  # the training form works
    with pytest.raises(ValueError, match=r"^norm_cfg=.*GN.*no deploy form.*'BN'"):
        repl.switch_to_deploy()
    with pytest.raises(ValueError, match='norm_cfg'):
        DET.build(dict(type='ResNetRepL', depth=34, replace_blocks=PLANS[34], **SMALL,
                       norm_cfg=dict(type='GN', num_groups=4), deploy=True))


def test_frozen_stages_freeze_the_computing_layers_of_frozen_stages():
    """frozen_stages=k: the computing layers of layer1..k are frozen and in eval mode after
    ``.train()``, like the blocks they replace; those of later stages train."""
    repl = DET.build(dict(type='ResNetRepL', depth=34, replace_blocks=PLANS[34], **SMALL,
                          frozen_stages=2))
    repl.train()
    for name in repl.res_layers:
        frozen = int(name[-1]) <= 2
        for layer in getattr(repl, name):
            if isinstance(layer, ComputingLayer):
                assert layer.training is not frozen
                assert all(p.requires_grad is not frozen for p in layer.parameters())


# --- ViT -------------------------------------------------------------------------------
TINY_VIT = dict(type='VisionTransformer', img_size=32, patch_size=8,
                arch=dict(embed_dims=32, num_layers=6, num_heads=2, feedforward_channels=64))
VIT_PLAN = dict(replace_blocks=[2, 4])

VIT_CASES = {
    'default': {},
    **{f'frozen_stages={k}': dict(frozen_stages=k) for k in range(0, 7)},
    'final_norm=False': dict(final_norm=False),
    **{f'out_type={t}': dict(out_type=t) for t in ('raw', 'cls_token', 'featmap',
                                                   'avg_featmap')},
    'with_cls_token=False': dict(with_cls_token=False, out_type='featmap'),
    'interpolate_mode=bilinear': dict(interpolate_mode='bilinear'),
    'layer_cfgs': dict(layer_cfgs=[dict(qkv_bias=i % 2 == 0) for i in range(6)]),
    'drop_path_rate': dict(drop_path_rate=0.3),
    'out_indices': dict(out_indices=(1, 2, 5)),
    'init_cfg=TruncNormal': dict(init_cfg=[dict(type='TruncNormal', layer='Linear', std=.02),
                                           dict(type='Constant', layer='LayerNorm', val=1.)]),
    'init_cfg=Pretrained+prefix': dict(init_cfg=dict(type='Pretrained', checkpoint='PRETRAINED',
                                                     prefix='backbone.')),
}


@pytest.mark.parametrize('case', list(VIT_CASES))
def test_vit_argument_fidelity(case, tmp_path):
    args = copy.deepcopy(VIT_CASES[case])
    cfg = dict(TINY_VIT, **args)
    if 'init_cfg' in args and args['init_cfg'].__class__ is dict:
        torch.manual_seed(1)
        src = CLS.build(TINY_VIT)
        path = tmp_path / 'vit.pth'
        torch.save({'state_dict': {'backbone.' + k: v + 0.01
                                   for k, v in src.state_dict().items()}}, path)
        cfg['init_cfg']['checkpoint'] = str(path)
    stock, repl = build_pair(CLS, 'VisionTransformerRepL', cfg, VIT_PLAN)
    gone = assert_same_retained(stock, repl)
    for name in gone:  # the computing layer follows the removed block: frozen, mode, drop path
        layer, block = _module(repl, name), _module(stock, name)
        assert layer.training == block.training
        frozen = not block.attn.proj.weight.requires_grad
        assert all(p.requires_grad != frozen for p in layer.parameters())
        s_dp = block.attn.out_drop
        assert type(layer.drop_path) is type(s_dp)
        assert getattr(layer.drop_path, 'drop_prob', None) == getattr(s_dp, 'drop_prob', None)
    for attr in ('out_indices', 'out_type', 'final_norm', 'with_cls_token', 'frozen_stages',
                 'interpolate_mode'):
        assert getattr(repl, attr) == getattr(stock, attr), attr
    with torch.no_grad():
        x = torch.randn(1, 3, 48, 48)  # another size: the position embedding is resized
        assert [o.shape for o in repl(x)] == [o.shape for o in stock(x)]


def test_vit_tiny_default_plan_fidelity():
    """ViT-Tiny (deit-tiny) at the default K=4 (blocks 3 and 7 removed)."""
    cfg = dict(type='VisionTransformer', arch='deit-tiny', img_size=32, patch_size=16)
    stock, repl = build_pair(CLS, 'VisionTransformerRepL', cfg, {})
    assert repl.removed_blocks == [3, 7]
    assert_same_retained(stock, repl)
