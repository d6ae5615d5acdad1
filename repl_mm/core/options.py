"""The RepL arguments of every backbone, declared, validated and documented once.

:class:`RepLOptions` holds the switches shared by ResNet-RepL, ViT-RepL and the RepL language
model (the removal plan of eq. 16 and the synthesis ablations of Tables III-VII, XVI);
:class:`TransformerRepLOptions` adds the transformer-only ones (Table VI branches, the per-head
synthesis of eq. 22-24). Both validate on construction and raise a ``ValueError`` naming the
argument and what is allowed. ``REPL_ARGS_DOC`` / ``TRANSFORMER_REPL_ARGS_DOC`` are the
``Args:`` text the backbones append to their docstrings.
"""
from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Optional, Sequence, Tuple

from .plan_args import check_plan_args
from .synthesis import check_repl_options

__all__ = ['DEFAULT_INTERVAL', 'SYNTHESIS_BRANCHES', 'RepLOptions', 'TransformerRepLOptions',
           'check_synthesis_branches', 'REPL_ARGS_DOC', 'TRANSFORMER_REPL_ARGS_DOC']

#: ``K`` of eq. 16 used throughout the paper.
DEFAULT_INTERVAL = 4
#: The two branches of the transformer computing layer, in execution order (eq. 18-27).
SYNTHESIS_BRANCHES = ('attn', 'mlp')

REPL_ARGS_DOC = """
        interval (int | None): replacement interval ``K`` (eq. 16): in each stage of
            ``L_s`` blocks the 1-based blocks ``r = mK, 1 <= r < L_s`` are removed (a
            stage's first and last block always stay). ``None`` removes nothing: the
            backbone is then the stock one (same keys, same outputs). Default 4.
        replace_blocks (Sequence, optional): explicit 0-based indices of the blocks to
            remove, used instead of ``interval`` (then leave ``interval`` at its default or
            set it to ``None``): one list per stage for ResNets (``[[], [], [3, 7], []]``),
            a flat list for transformers (``[3, 7]``). Not a stage's first or last block,
            no two adjacent.
        neighbours (str): neighbours that feed the synthesis: ``'both'`` (default),
            ``'prev'`` or ``'next'`` (Table VII), or ``'none'``: Table VI "no weights", each
            computing layer owns a learnable operator of the synthesized shape and reads no
            neighbour weight (:mod:`repl_mm.core.own`).
        coefficients (str): ``'separate'`` alpha and beta (default), one ``'shared'``
            coefficient with ``beta = 1 - alpha`` (Table XVI), or ``'fixed'``: constant
            alpha = beta = 1/2, no trainable coefficient (the "fixed coefficients" ablation,
            ours; not Table VI's "no weights").
        stop_grad (bool): stop-gradient on the neighbour tensors read by the synthesis
            (eq. 30). Default True.
        remove_only (bool): drop the blocks and insert nothing (Tables III-IV, "-25%
            layers"). Default False.
        deploy (bool): build the computing layers in their static deploy form (eq. 32-33),
            to load a checkpoint written after ``switch_to_deploy()``. Default False.
"""

TRANSFORMER_REPL_ARGS_DOC = REPL_ARGS_DOC + """\
        synthesis_branches (Sequence[str]): ``('attn', 'mlp')`` (default, the full design of
            Table VI: attention-projection branch then MLP-fusion branch, each residual),
            ``('attn',)`` or ``('mlp',)``.
        head_wise (bool): per-head synthesis of the attention projection (eq. 22-24, ``2H``
            coefficients per layer) instead of the scalar form (eq. 20-21, 2 coefficients).
            Default False.
"""


def check_synthesis_branches(synthesis_branches) -> Tuple[str, ...]:
    """Validates ``synthesis_branches``: a non-empty selection of ``('attn', 'mlp')``.

    Returns the branches as a tuple in execution order (attention first, like eq. 18).
    """
    if isinstance(synthesis_branches, str) \
            or not isinstance(synthesis_branches, (list, tuple)) \
            or not synthesis_branches \
            or any(b not in SYNTHESIS_BRANCHES for b in synthesis_branches) \
            or len(set(synthesis_branches)) != len(synthesis_branches):
        raise ValueError(
            "synthesis_branches must be a non-empty list or tuple of distinct values from "
            f"{SYNTHESIS_BRANCHES}: ('attn', 'mlp') is the full RepL design of Table VI, "
            f"('attn',) and ('mlp',) its ablations; got {synthesis_branches!r}")
    return tuple(b for b in SYNTHESIS_BRANCHES if b in synthesis_branches)


@dataclass(frozen=True)
class RepLOptions:
    """The RepL switches of a backbone; see ``REPL_ARGS_DOC`` for each field.

    Raises:
        ValueError: on construction, naming the argument and its allowed values.
    """
    interval: Optional[int] = DEFAULT_INTERVAL
    replace_blocks: Optional[Sequence] = None
    neighbours: str = 'both'
    coefficients: str = 'separate'
    stop_grad: bool = True
    remove_only: bool = False
    deploy: bool = False

    def __post_init__(self) -> None:
        check_repl_options(self.neighbours, self.coefficients, stop_grad=self.stop_grad,
                           remove_only=self.remove_only, deploy=self.deploy)
        if self.interval is not None and (isinstance(self.interval, bool)
                                          or not isinstance(self.interval, int)):
            raise ValueError(f'interval must be an int >= 2 or None, got {self.interval!r}')
        check_plan_args(self.interval, self.replace_blocks, DEFAULT_INTERVAL)

    @property
    def plan_arg(self) -> str:
        """The argument that chose the plan, for error messages."""
        return 'replace_blocks' if self.replace_blocks is not None else 'interval'

    @property
    def plan_interval(self) -> Optional[int]:
        """The interval passed to the plan (``None`` when ``replace_blocks`` decides)."""
        return None if self.replace_blocks is not None else self.interval

    def layer_kwargs(self) -> Dict[str, Any]:
        """The arguments every computing layer takes from the options."""
        return dict(neighbours=self.neighbours, coefficients=self.coefficients,
                    stop_grad=self.stop_grad, deploy=self.deploy)

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def field_names(cls) -> Tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class TransformerRepLOptions(RepLOptions):
    """:class:`RepLOptions` plus the transformer switches (``TRANSFORMER_REPL_ARGS_DOC``)."""
    synthesis_branches: Sequence[str] = SYNTHESIS_BRANCHES
    head_wise: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, 'synthesis_branches',
                           check_synthesis_branches(self.synthesis_branches))
        check_repl_options(self.neighbours, self.coefficients, head_wise=self.head_wise)
        rb = self.replace_blocks
        if rb is not None and (isinstance(rb, (str, bytes)) or not isinstance(rb, Sequence)
                               or any(isinstance(i, bool) or not isinstance(i, int)
                                      for i in rb)):
            raise ValueError('replace_blocks must be a flat list of 0-based block indices '
                             f'(ints), e.g. [3, 7], got {rb!r}')

    def layer_kwargs(self) -> Dict[str, Any]:
        return dict(super().layer_kwargs(), synthesis_branches=self.synthesis_branches,
                    head_wise=self.head_wise)
