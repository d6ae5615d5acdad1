"""Text output of the benchmarks: :func:`format_report` (a
:func:`~repl_mm.analysis.benchmark.run_benchmark` result side by side with the cost model of
eq. 42-58), :func:`format_plan` (a :func:`~repl_mm.analysis.predict.predict_plan` result),
:func:`save_json`, and the public number formatters the tools share (:func:`format_si`,
:func:`format_bytes`, :func:`format_ms`, :func:`format_ratio`)."""
import json
from typing import Any, Dict, Optional

from .closed_forms import eta_basic, eta_vit
from .counters import ratio_or_none

__all__ = ['format_si', 'format_bytes', 'format_ms', 'format_ratio', 'format_report',
           'format_plan', 'save_json', 'PLAN_LEGEND']


def format_si(v: Optional[float], unit: str = '') -> str:
    """``v`` with an SI prefix and 3 decimals (``23.508M``); ``'n/a'`` for None."""
    if v is None:
        return 'n/a'
    for div, p in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(v) >= div:
            return f'{v / div:.3f}{p}{unit}'
    return f'{v:g}{unit}'


def format_bytes(v: Optional[float]) -> str:
    """Bytes as MiB with 2 decimals (``12.50MiB``); ``'n/a'`` for None."""
    return 'n/a' if v is None else f'{v / 2 ** 20:.2f}MiB'


def format_ms(v: Optional[float]) -> str:
    """Seconds as milliseconds with 2 decimals (``3.14ms``); ``'n/a'`` for None."""
    return 'n/a' if v is None else f'{v * 1e3:.2f}ms'


def format_ratio(v: Optional[float]) -> str:
    """A ratio with 4 decimals; ``'n/a'`` for None."""
    return 'n/a' if v is None else f'{v:.4f}'


def format_report(res: Dict[str, Any]) -> str:
    """The side-by-side text of a :func:`~repl_mm.analysis.benchmark.run_benchmark` result."""
    si, mib, ms, r4, quot = format_si, format_bytes, format_ms, format_ratio, ratio_or_none
    m = res['machine']
    lines = [f"RepL benchmark: {res['repl']}  vs  {res['e2e']}",
             f"machine: {m['cpu']} ({m['cpu_count']} CPUs, {m['torch_threads']} torch threads)"
             f"{', ' + m['gpu'] if 'gpu' in m else ''}; torch {m['torch']}; device {m['device']}; "
             f"clock: {res.get('clock', 'wall')} time",
             f"input {res['options']['batch_size']}x3x{res['input_size'][0]}x"
             f"{res['input_size'][1]}; plan (0-based removed blocks per stage) {res['plan']} = "
             f"{res['num_removed']} of {sum(res['num_blocks'])} blocks "
             f"({plan_source(res['interval'], res['replace_blocks'])})"]
    lines += [f'note: {n}' for n in res.get('notes', [])]
    for scope, sc in res['scopes'].items():
        ve, vr = sc['variants']['e2e'], sc['variants']['repl']
        p = sc['predictions']['repl']
        rt = p['ratios']
        hom = p['homogeneous']
        head = (f"{'[' + scope + ']':<26}{'E2E':>12}{'RepL':>12}{'RepL/E2E':>10}"
                f"{'predicted':>11}  prediction")
        lines += ['', head, '-' * len(head)]

        def row(label, e, r_, fmt, pred=None, how=''):
            ratio = quot(r_, e)
            lines.append(f'{label:<26}{fmt(e):>12}{fmt(r_):>12}{r4(ratio):>10}'
                         f'{r4(pred):>11}  {how}')
        row('params', ve['params'], vr['params'], si, rt['params'],
            f"eq. 42 exact (eq. 52 homogeneous, R/N=1/K: {r4(hom['params_eq52'])}, "
            f"this R/N: {r4(hom['params_eq52_plan'])})")
        row('trainable params', ve['trainable_params'], vr['trainable_params'], si,
            rt['trainable_params'], 'eq. 42')
        row('forward FLOPs', ve['flops'], vr['flops'], si, rt['flops'],
            f"eq. 53 (eq. 55 homogeneous, R/N=1/K: {r4(hom['flops_eq55'])}, "
            f"this R/N: {r4(hom['flops_eq55_plan'])})")
        lines.append(f"{'  F_synth (element-wise)':<26}{'':>12}{si(p['synthesis_flops']):>12}"
                     f"{'':>10}{'':>11}  {p['synthesis_flops'] / max(vr['flops'], 1):.2e} of "
                     'RepL forward FLOPs, not in the FLOPs above')
        row('train FLOPs (fwd+bwd)', ve['train_flops'], vr['train_flops'], si,
            rt['train_flops'], 'eq. 53 per site, forward + backward (eq. 76)')
        row('activation memory', ve['activation'], vr['activation'], mib, rt['activation'],
            'eq. 58 (S_r - S~_r per site)')
        lines.append(f"{'  M_aux (synthesis)':<26}{mib(ve['synthesis']):>12}"
                     f"{mib(vr['synthesis']):>12}{'':>10}{mib(p['pred_aux']):>11}  "
                     f"{vr['synthesis'] / max(vr['activation'], 1):.2%} of RepL activation "
                     '(parameter-only tensors, batch independent)')
        if 'step_time' in vr:
            ci = vr.get('step_time_ratio_ci')
            lines.append(f"{'training step time':<26}{ms(ve['step_time']):>12}"
                         f"{ms(vr['step_time']):>12}{r4(vr['step_time_ratio']):>10}"
                         f"{r4(rt['time']):>11}  "
                         f"local block vs computing-layer steps; eq. 76 (train FLOPs): "
                         f"{r4(rt['train_flops'])}"
                         + (f'; measured 95% CI {ci[0]:.4f}-{ci[1]:.4f}' if ci else ''))
            if p['synthesis_time'] is not None:
                lines.append(f"{'  synthesis time':<26}{'':>12}{ms(p['synthesis_time']):>12}"
                             f"{'':>10}{'':>11}  {p['synthesis_time'] / vr['step_time']:.2%} "
                             'of the RepL step (forward + backward of eq. 9-10)')
        if 'cuda_peak_bytes' in vr:
            row('CUDA peak step memory', ve['cuda_peak_bytes'], vr['cuda_peak_bytes'], mib)
        others = [n for n in sc['variants'] if n not in ('e2e', 'repl')]
        if others:
            lines += ['', f"{'[' + scope + '] Table IX':<26}{'activation':>12}{'vs E2E':>8}"
                      f"{'step':>12}{'vs E2E':>8}  predicted act / time ratio vs its E2E twin"]
            for n in ['e2e', 'repl'] + others:
                v = sc['variants'][n]
                pr = sc['predictions'].get(n, {}).get('ratios', {})
                lines.append(f"{n:<26}{mib(v['activation']):>12}"
                             f"{r4(quot(v['activation'], ve['activation'])):>8}"
                             f"{ms(v.get('step_time')):>12}"
                             f"{r4(v.get('step_time_vs_e2e')):>8}  "
                             + (f"{r4(pr.get('activation'))} / {r4(pr.get('time'))}"
                                if pr else ''))
    for scope, inf in res.get('inference', {}).items():
        head = (f"{'[' + scope + '] inference':<26}{'batch':>6}{'E2E':>11}{'dynamic':>11}"
                f"{'deploy':>11}{'dep/E2E':>9}{'FLOPs':>8}{'dyn/dep':>9}{'max|diff|':>11}")
        lines += ['', head, '-' * len(head)]
        for b, row_ in inf.items():
            lat = row_.get('latency', {})
            lines.append(f"{'':<26}{b:>6}{ms(lat.get('e2e')):>11}{ms(lat.get('dynamic')):>11}"
                         f"{ms(lat.get('deploy')):>11}{r4(row_.get('latency_ratio')):>9}"
                         f"{row_['flop_ratio']:>8.4f}"
                         f"{r4(row_.get('deploy_speedup_vs_dynamic')):>9}"
                         f"{row_['max_abs_diff']:>11.2e}")
            for name, amp_rows in row_.get('amp', {}).items():
                for a in amp_rows:
                    lines.append(f"{'  ' + name + ' ' + a['precision']:<26}{b:>6}"
                                 f"{a['ms_per_img']:>9.3f}ms/img  "
                                 f"max rel diff to fp32 {a['max_rel_diff_to_fp32']:.2e}")
    lines += ['', 'targets:']
    for c in res['checks']:
        v, t = c['value'], c['target']
        fv = f'{v:.4g}' if isinstance(v, float) else str(v)
        ft = f'{t:.4g}' if isinstance(t, float) else str(t)
        ci = f" [95% CI {c['ci'][0]:.4f}-{c['ci'][1]:.4f}]" if 'ci' in c else ''
        status = c.get('status', 'ok' if c['ok'] else 'MISS')
        lines.append(f"  [{status}] {c['name']}: {fv}{ci} (target: {c.get('relation', '==')} "
                     f'{ft})')
    return '\n'.join(lines)


def save_json(res: Dict[str, Any], path: str) -> None:
    """Writes a result as JSON (dict keys made strings)."""
    with open(path, 'w') as f:
        json.dump(res, f, indent=1, default=str)


#: The legend of :func:`format_plan`'s per-site columns (one line).
PLAN_LEGEND = ('columns: P_r, a_r params of block / computing layer (eq. 43-50); F_r, F~_r '
               'forward FLOPs, eta_r = F~_r/F_r (eq. 53-54); S_r, S~_r bytes saved for '
               'backward, S_r-S~_r removed (eq. 58); M_aux synthesized-weight bytes')


def plan_source(interval, replace_blocks) -> str:
    """What chose the removal plan, as used: the explicit ``replace_blocks`` (the interval is
    then not used and not printed) or ``interval K``."""
    if replace_blocks is not None:
        return f'replace_blocks = {replace_blocks} (explicit plan; no interval used)'
    return f'interval K = {interval}'


def format_plan(plan: Dict[str, Any]) -> str:
    """The text of a :func:`~repl_mm.analysis.predict.predict_plan` result: the removed
    blocks per stage, the per-site costs (with a one-line legend of the columns) and the
    predicted totals."""
    si, mib, r4 = format_si, format_bytes, format_ratio
    c = plan['cost']
    n_blocks = sum(len(b) for b in plan['blocks'])
    removed = sum(len(p) for p in c['plan'])
    lines = [f"RepL plan: {plan['repl']} (E2E twin: {plan['e2e']})",
             f"{plan_source(plan['interval'], plan['replace_blocks'])}: "
             f"removes {removed} of {n_blocks} blocks ({removed / max(n_blocks, 1):.1%})"]
    for s, (names, rm) in enumerate(zip(plan['blocks'], c['plan'])):
        gone = ', '.join(f'{names[i]} (r={i + 1})' for i in rm) or 'none'
        lines.append(f'  stage {s + 1}: {len(names)} blocks, removed: {gone}')
    lines += ['', f"per removed block ({plan['scope']} input {plan['batch_size']}x3x"
              f"{plan['input_size'][0]}x{plan['input_size'][1]}):",
              PLAN_LEGEND,
              f"{'block':<12}{'kind':<11}{'P_r':>10}{'a_r':>8}{'F_r':>11}{'F~_r':>11}"
              f"{'eta_r':>7}{'S_r':>11}{'S~_r':>11}{'S_r-S~_r':>11}{'M_aux':>10}"]
    for st in c['sites']:
        lines.append(f"{st['name']:<12}{st['kind']:<11}{si(st['params']):>10}"
                     f"{st['layer_params']:>8}{si(st['flops']):>11}{si(st['layer_flops']):>11}"
                     f"{st['eta']:>7.3f}{mib(st['saved']):>11}{mib(st['layer_saved']):>11}"
                     f"{mib(st['saved_delta']):>11}{mib(st['layer_synthesis']):>10}")
    r = c['ratios']
    hom = c['homogeneous']
    lines += ['', f"{'predicted':<26}{'E2E':>12}{'RepL':>12}{'RepL/E2E':>10}  saving  formula",
              f"{'params':<26}{si(c['params']):>12}{si(c['pred_params']):>12}"
              f"{r4(r['params']):>10}  {1 - r['params']:6.1%}  eq. 42 "
              f"(eq. 52 homogeneous: {r4(hom['params_eq52'])} with R/N=1/K, "
              f"{r4(hom['params_eq52_plan'])} with this R/N)",
              f"{'trainable params':<26}{si(c['trainable_params']):>12}"
              f"{si(c['pred_trainable_params']):>12}{r4(r['trainable_params']):>10}  "
              f"{1 - r['trainable_params']:6.1%}  eq. 42",
              f"{'forward FLOPs':<26}{si(c['flops']):>12}{si(c['pred_flops']):>12}"
              f"{r4(r['flops']):>10}  {1 - r['flops']:6.1%}  eq. 53 + F_synth "
              f"{si(c['synthesis_flops'])} (eq. 55: {r4(hom['flops_eq55'])} with R/N=1/K, "
              f"{r4(hom['flops_eq55_plan'])} with this R/N)",
              f"{'train FLOPs (fwd+bwd)':<26}{si(c['train_flops']):>12}"
              f"{si(c['pred_train_flops']):>12}{r4(r['train_flops']):>10}  "
              f"{1 - r['train_flops']:6.1%}  eq. 76: the step-time estimate",
              f"{'activation memory':<26}{mib(c['activation']):>12}"
              f"{mib(c['pred_activation']):>12}{r4(r['activation']):>10}  "
              f"{1 - r['activation']:6.1%}  eq. 58 + M_aux {mib(c['pred_aux'])}"]
    kinds = plan['kinds']
    if kinds == ['basic']:
        lines.append(f'paper closed form: eta_basic = {eta_basic()} (eq. 56)')
    elif kinds == ['vit'] and plan.get('tokens'):
        t, d = plan['tokens'][1], plan['tokens'][2]
        lines.append(f'paper closed form: eta_ViT = 1/(12 + 2T/d) = {eta_vit(t, d):.4f} for '
                     f'T={t}, d={d} (eq. 57: one projection; the measured eta_r includes the '
                     'MLP-fusion branch when synthesis_branches has it)')
    return '\n'.join(lines)
