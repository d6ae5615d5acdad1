"""The analytic cost model of RepL (paper §V-B, eq. 42-58 and eq. 76).

For a backbone and a removal plan it predicts what RepL saves, from the E2E model's own
block shapes:

* parameters, eq. 42: ``P_RepL = P_E2E - sum_r (P_r - a_r)`` with ``P_r`` counted on the
  removed E2E block and ``a_r`` from eq. 44 (BasicBlock: ``4C``), eq. 47 (Bottleneck:
  ``2B + 2C``) or eq. 50 (ViT: ``2`` or ``2H``), adjusted for the ablation switches
  (one neighbour or a shared coefficient: one coefficient vector; ``remove_only``: 0) and for
  frozen or non-affine norms;
* forward FLOPs, eq. 53: ``F_RepL = F_E2E - sum_r F_r + sum_r F~_r + F_synth``;
* activation memory, eq. 58: ``M_RepL = M_E2E - sum_r (S_r - S~_r) + M_aux``;
* training-step time, with the same subtract-and-add structure: ``T_RepL = T_E2E -
  sum_r (T_r - T~_r)``, and eq. 76 (cost proportional to training FLOPs).

``F_r``, ``S_r``, ``T_r`` belong to the removed E2E block ``r``; ``F~_r``, ``S~_r``, ``T~_r``
to the computing layer that takes its place. Every per-site figure is measured *locally*: the
removed block and the computing layer each run between their two neighbours (a
"triple": ``f_{r-1}, f_r, f_{r+1}`` against ``f_{r-1}, g_r, f_{r+1}``) on an input of the
shape the E2E model feeds there, so that saved storages shared between adjacent blocks are
counted exactly as in the whole model. FLOP and byte counts depend on shapes only, so the
local runs can use the meta device (no computation at all). The whole RepL model is never
run to make the prediction; ``tools/analysis_tools/benchmark.py`` measures it and compares.

Closed forms of the paper for comparison: eq. 43, 46, 49 (``P_r``), eq. 52 and 55
(homogeneous approximations), eq. 56-57 (``eta_r``).

One job a module: :class:`CostModel` (the predictions) here, the closed forms in
:mod:`.closed_forms`, the blocks of a backbone and ``a_r`` in :mod:`.blocks`, the local
per-site measurements (:class:`~.sites.SiteCost`, :func:`~.sites.site_costs`) in :mod:`.sites`,
their timing in :mod:`.site_timing`.
"""
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from .closed_forms import flop_ratio_eq55, param_ratio_eq52
from .sites import SiteCost

__all__ = ['CostModel']


@dataclass
class CostModel:
    """Predictions of eq. 42, 53, 58 (and the step-time analogue) for one plan.

    Args:
        sites (list[SiteCost]): the removed blocks.
        plan (list[list[int]]): the removal plan (0-based indices per stage).
        params, trainable_params: ``P_E2E`` (all / trainable) of the measured scope.
        flops: ``F_E2E``, forward FLOPs of the measured scope.
        train_flops: forward + backward FLOPs of the E2E step (optional).
        activation: ``M_act^E2E``, activation bytes saved by the E2E forward.
        time: E2E training-step time (optional).
        interval: ``K``, for the homogeneous approximations.
        num_blocks: ``N``, the number of blocks of the E2E backbone (same use).
        time_ratio: the predicted step-time ratio when computed pairwise from interleaved
            samples (:func:`~.site_timing.paired_time_ratio`); otherwise it follows from the
            medians.
    """
    sites: List[SiteCost]
    plan: List[List[int]]
    params: int
    trainable_params: int
    flops: int
    activation: int
    train_flops: Optional[int] = None
    time: Optional[float] = None
    interval: Optional[int] = None
    time_ratio: Optional[float] = None
    num_blocks: Optional[int] = None
    notes: List[str] = field(default_factory=list)

    # eq. 42
    @property
    def pred_params(self) -> int:
        return self.params - sum(s.params - s.layer_params for s in self.sites)

    @property
    def pred_trainable_params(self) -> int:
        return self.trainable_params - sum(s.trainable_params - s.layer_trainable_params
                                           for s in self.sites)

    # eq. 53 (F_synth kept apart: FlopCounterMode does not count element-wise work)
    @property
    def pred_flops(self) -> int:
        return self.flops - sum(s.flops - s.layer_flops for s in self.sites)

    @property
    def synthesis_flops(self) -> int:
        return sum(s.synthesis_flops for s in self.sites)

    @property
    def pred_train_flops(self) -> Optional[int]:
        if self.train_flops is None:
            return None
        return self.train_flops - sum(s.train_flops_delta for s in self.sites)

    # eq. 58 (M_aux kept apart)
    @property
    def pred_activation(self) -> int:
        return self.activation - sum(s.saved_delta for s in self.sites)

    @property
    def pred_aux(self) -> int:
        return sum(s.layer_synthesis for s in self.sites)

    # step time, eq. 53 structure with measured local step times
    @property
    def pred_time(self) -> Optional[float]:
        if self.time is None or any(s.time is None for s in self.sites):
            return None
        return self.time - sum(s.time - s.layer_time for s in self.sites)

    @property
    def synthesis_time(self) -> Optional[float]:
        if any(s.synthesis_time is None for s in self.sites):
            return None
        return sum(s.synthesis_time for s in self.sites)

    def ratios(self) -> Dict[str, Optional[float]]:
        """Predicted RepL / E2E ratios."""
        def r(a, b):
            return None if a is None or not b else a / b
        return {'params': r(self.pred_params, self.params),
                'trainable_params': r(self.pred_trainable_params, self.trainable_params),
                'flops': r(self.pred_flops, self.flops),
                'train_flops': r(self.pred_train_flops, self.train_flops),
                'activation': r(self.pred_activation, self.activation),
                'time': (self.time_ratio if self.time_ratio is not None
                         else r(self.pred_time, self.time))}

    def homogeneous(self, num_blocks: Optional[int] = None) -> Dict[str, Optional[float]]:
        """The homogeneous-block approximations eq. 52 and eq. 55 with this plan's mean
        ``a/P`` and ``eta``: with ``R/N = 1/K`` as the paper assumes (``K`` = interval), and,
        if ``num_blocks`` (``N``) is given, with this plan's actual fraction ``R/N``."""
        out = {'params_eq52': None, 'flops_eq55': None,
               'params_eq52_plan': None, 'flops_eq55_plan': None}
        if not self.sites:
            return out
        n = len(self.sites)
        a = sum(s.layer_params for s in self.sites) / n
        p = sum(s.params for s in self.sites) / n
        eta = sum(s.eta for s in self.sites) / n
        if self.interval:
            out['params_eq52'] = param_ratio_eq52(self.interval, a, p)
            out['flops_eq55'] = flop_ratio_eq55(self.interval, eta)
        if num_blocks:
            k = num_blocks / n  # R/N = 1/k
            out['params_eq52_plan'] = param_ratio_eq52(k, a, p)
            out['flops_eq55_plan'] = flop_ratio_eq55(k, eta)
        return out

    def as_dict(self) -> Dict[str, Any]:
        d = {k: getattr(self, k) for k in (
            'plan', 'params', 'trainable_params', 'flops', 'train_flops', 'activation',
            'time', 'interval', 'num_blocks', 'pred_params', 'pred_trainable_params', 'pred_flops',
            'synthesis_flops', 'pred_train_flops', 'pred_activation', 'pred_aux', 'pred_time',
            'synthesis_time', 'notes')}
        d['ratios'] = self.ratios()
        d['homogeneous'] = self.homogeneous(self.num_blocks)
        d['sites'] = [dict(asdict(s), eta=s.eta) for s in self.sites]
        return d
