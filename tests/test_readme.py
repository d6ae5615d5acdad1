"""The README's config snippets for swapping RepL into stock mm configs really build."""
import re
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

README = Path(__file__).resolve().parents[1] / 'README.md'


def swap_snippets():
    text = README.read_text()
    section = text.split('## Swapping RepL into an existing mm config', 1)[1].split('\n## ', 1)[0]
    return re.findall(r'```python\n(.*?)```', section, flags=re.S)


def test_one_snippet_per_toolbox():
    scopes = [re.search(r"_base_ = '(\w+)::", s).group(1) for s in swap_snippets()]
    assert sorted(set(scopes)) == ['mmdet', 'mmpretrain', 'mmseg']


@pytest.mark.parametrize('snippet', swap_snippets())
def test_snippet_builds_a_repl_backbone(tmp_path, snippet):
    path = tmp_path / 'cfg.py'
    path.write_text(snippet)
    cfg = Config.fromfile(str(path))
    init_default_scope(cfg.default_scope)
    backbone = MODELS.build(cfg.model.backbone)
    assert type(backbone).__name__.endswith('RepL')
    assert sum(map(len, backbone.removal_plan)) > 0
