"""tools/model_converters/reparameterize_model.py on a checkpoint laid out as mmengine's Runner
writes it."""
import subprocess
import sys
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'cifar-resnet32_repl_cifar10.py'


def test_cli_converts_a_runner_checkpoint_to_an_equivalent_deploy_model(tmp_path):
    torch.manual_seed(0)
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(CONFIG))
    model = MODELS.build(cfg.model)
    for name, p in model.backbone.named_parameters():
        if 'synthesis' in name:
            torch.nn.init.uniform_(p, 0.2, 1.0)
    model.train()
    with torch.no_grad():                      # give the BNs real running statistics
        for _ in range(3):
            model.backbone(torch.randn(8, 3, 32, 32))
    model.eval()
    hub = MessageHub.get_instance('reparam-test')
    hub.update_scalar('train/loss', 1.5)       # a HistoryBuffer, as the Runner saves
    src, dst = tmp_path / 'epoch_1.pth', tmp_path / 'deploy.pth'
    torch.save({'meta': {'epoch': 1, 'iter': 10}, 'state_dict': model.state_dict(),
                'message_hub': hub.state_dict()}, src)

    tool = ROOT / 'tools' / 'model_converters' / 'reparameterize_model.py'
    out = subprocess.run([sys.executable, str(tool),
                          str(CONFIG), str(src), str(dst)], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'deploy checkpoint written' in out.stdout

    ckpt = torch.load(dst, map_location='cpu', weights_only=True)   # tensors only
    deploy_cfg = cfg.model.copy()
    deploy_cfg.backbone.deploy = True
    deployed = MODELS.build(deploy_cfg)
    deployed.load_state_dict(ckpt['state_dict'], strict=True)
    deployed.eval()
    assert not any('synthesis' in k for k in ckpt['state_dict'])
    assert 'backbone.layer1.3.conv.weight' in ckpt['state_dict']
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        ref = model(x, mode='tensor')
        got = deployed(x, mode='tensor')
    ref, got = (ref[-1] if isinstance(ref, (tuple, list)) else ref,
                got[-1] if isinstance(got, (tuple, list)) else got)
    assert ((ref - got).abs().max() / ref.abs().max()).item() < 1e-5
    assert ref.argmax(1).tolist() == got.argmax(1).tolist()
