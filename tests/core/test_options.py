"""The RepL options object (repl_mm.core.options): one validation for every backbone."""
import pytest

from repl_mm.core.options import (
    REPL_ARGS_DOC,
    TRANSFORMER_REPL_ARGS_DOC,
    RepLOptions,
    TransformerRepLOptions,
)


def test_defaults_and_layer_kwargs():
    o = RepLOptions()
    assert (o.interval, o.replace_blocks, o.plan_arg, o.plan_interval) == (4, None, 'interval', 4)
    assert o.layer_kwargs() == dict(neighbours='both', coefficients='separate', stop_grad=True,
                                    deploy=False)
    t = TransformerRepLOptions(synthesis_branches=['mlp', 'attn'], head_wise=True)
    assert t.synthesis_branches == ('attn', 'mlp')
    assert t.layer_kwargs()['head_wise'] is True


@pytest.mark.parametrize('kwargs, match', [
    (dict(neighbours='left'), r"neighbours must be one of \('both', 'prev', 'next', 'none'\)"),
    (dict(coefficients='one'), 'coefficients must be one of'),
    (dict(stop_grad=1), 'stop_grad must be True or False'),
    (dict(remove_only='yes'), 'remove_only must be True or False'),
    (dict(deploy=None), 'deploy must be True or False'),
    (dict(coefficients='shared', neighbours='prev'), "needs neighbours='both'"),
    (dict(interval='4'), 'interval must be an int'),
    (dict(interval=3, replace_blocks=[[1]]), 'interval=3 and replace_blocks=.* both given'),
])
def test_bad_values_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RepLOptions(**kwargs)


def test_replace_blocks_with_default_or_none_interval():
    assert RepLOptions(replace_blocks=[[1]]).plan_arg == 'replace_blocks'
    assert RepLOptions(replace_blocks=[[1]]).plan_interval is None
    assert RepLOptions(interval=None, replace_blocks=[[1]]).plan_arg == 'replace_blocks'


@pytest.mark.parametrize('kwargs, match', [
    (dict(synthesis_branches='attn'), 'synthesis_branches must be'),
    (dict(head_wise='no'), 'head_wise must be True or False'),
    (dict(replace_blocks=[[3]]), 'replace_blocks must be a flat list'),
])
def test_transformer_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TransformerRepLOptions(**kwargs)


def test_one_args_text():
    for name in ('interval', 'replace_blocks', 'neighbours', 'coefficients', 'stop_grad',
                 'remove_only', 'deploy'):
        assert f'        {name} (' in REPL_ARGS_DOC
    assert TRANSFORMER_REPL_ARGS_DOC.startswith(REPL_ARGS_DOC)
    assert 'head_wise (bool)' in TRANSFORMER_REPL_ARGS_DOC
