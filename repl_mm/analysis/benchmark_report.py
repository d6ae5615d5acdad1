"""The paper's benchmark table (Tables I, II, VIII, IX, XI, XII, XIV): the rows (RepL config,
E2E twin, the paper's claimed reductions), running them (:func:`run_row`,
:func:`run_backends`, :func:`run_report`) and the markdown of a report JSON (:func:`render`,
written between the ``<!-- BEGIN GENERATED -->`` / ``<!-- END GENERATED -->`` markers by
:func:`write_markdown`). ``tools/analysis_tools/benchmark_report.py`` is the command line
(:mod:`repl_mm.cli.benchmark_report`); the functions take its parsed options (``args``).
"""
import os
import time

__all__ = ['ROWS', 'PAPER_TABLE_IX', 'PAPER_INFERENCE', 'BEGIN', 'END', 'run_row',
           'run_backends', 'render', 'write_markdown', 'run_report']

#: The paper's claimed reductions (percent) for the rows: GPU memory and training time per
#: epoch, E2E -> RepL (Tables I, II, VIII, XIV).
ROWS = [
    dict(key='resnet32', label='ResNet-32', table='I (CIFAR-10)',
         repl='configs/cifar-resnet32_repl_cifar10.py', e2e='configs/cifar-resnet32_cifar10.py',
         preset='resnet32-cifar', batch=64, scopes=('model',), compat=True, reps=16,
         infer_batches=(1, 64), paper=dict(memory=20.4, time=21.5)),
    dict(key='resnet110', label='ResNet-110', table='I (CIFAR-10)',
         repl='configs/cifar-resnet110_repl_cifar10.py',
         e2e='configs/cifar-resnet110_cifar10.py', preset='resnet110-cifar', batch=32,
         scopes=('model',), reps=16, infer_batches=(1, 32),
         paper=dict(memory=18.2, time=20.1)),
    dict(key='resnet34', label='ResNet-34', table='II',
         repl='configs/resnet34_repl_imagenet.py', e2e='configs/resnet34_imagenet.py',
         preset='resnet34', batch=4, scopes=('model',), reps=16, infer_batches=(1, 4),
         paper=dict(memory=12.5, time=11.4, speedup=1.264)),
    dict(key='resnet34-max', label='ResNet-34, replace_blocks=[[1],[1],[1,3],[1]]',
         table='explicit plan', repl='configs/resnet34_repl_imagenet.py',
         e2e='configs/resnet34_imagenet.py', preset='resnet34',
         cfg_options={'model.backbone.replace_blocks': [[1], [1], [1, 3], [1]]},
         batch=4, scopes=('model',), reps=16, infer_batches=(4,), paper=None),
    dict(key='resnet101', label='ResNet-101', table='II, IX',
         repl='configs/resnet101_repl_imagenet.py', e2e='configs/resnet101_imagenet.py',
         preset='resnet101', batch=2, scopes=('model',), compat=True, reps=10,
         infer_batches=(1, 2), paper=dict(memory=13.8, time=14.4, speedup=1.120)),
    dict(key='resnet152', label='ResNet-152', table='II',
         repl='configs/resnet152_repl_imagenet.py', e2e='configs/resnet152_imagenet.py',
         preset='resnet152', batch=2, scopes=('model',), reps=10, infer_batches=(2,),
         paper=dict(memory=12.3, time=14.2)),
    dict(key='vit-tiny', label='ViT-T/16', table='II',
         repl='configs/vit-tiny-p16_repl_imagenet.py', e2e='configs/vit-tiny-p16_imagenet.py',
         preset='vit-tiny', batch=8, scopes=('model',), reps=16, infer_batches=(1, 8),
         paper=dict(memory=21.2, time=18.9)),
    dict(key='vit-small', label='ViT-S/16', table='II',
         repl='configs/vit-small-p16_repl_imagenet.py', e2e='configs/vit-small-p16_imagenet.py',
         preset='vit-small', batch=4, scopes=('model',), reps=12, infer_batches=(1, 4),
         paper=dict(memory=22.9, time=22.7, speedup=1.176)),
    dict(key='vit-base', label='ViT-B/16', table='II',
         repl='configs/vit-base-p16_repl_imagenet.py', e2e='configs/vit-base-p16_imagenet.py',
         preset='vit-base', batch=2, scopes=('model',), reps=8, infer_batches=(2,),
         paper=dict(memory=28.7, time=25.1)),
    # dense prediction: the backbone (where RepL acts) timed at half the training size on this
    # CPU; parameters, FLOPs and activation memory also predicted at the training size
    dict(key='retinanet-r50', label='RetinaNet-R50', table='VIII',
         repl='configs/retinanet_r50_repl_coco.py', e2e='configs/retinanet_r50_coco.py',
         preset='retinanet-r50', batch=1, scopes=('backbone',), input_size=(416, 672),
         reps=6, warmup=1, infer_batches=(1,), paper=dict(memory=15.04, time=15.91)),
    dict(key='retinanet-r101', label='RetinaNet-R101', table='VIII',
         repl='configs/retinanet_r101_repl_coco.py', e2e='configs/retinanet_r101_coco.py',
         preset='retinanet-r101', batch=1, scopes=('backbone',), input_size=(416, 672),
         reps=6, warmup=1, infer_batches=(1,), paper=dict(memory=18.80, time=15.80)),
    dict(key='deeplabv3-r50', label='DeepLabV3-R50', table='XIV',
         repl='configs/deeplabv3_r50_repl_cityscapes.py',
         e2e='configs/deeplabv3_r50_cityscapes.py', preset='deeplabv3-r50', batch=1,
         scopes=('backbone',), input_size=(384, 384), reps=6, warmup=1, infer_batches=(1,),
         paper=dict(memory=100 * (23.90 - 20.28) / 23.90, time=100 * (80 - 68) / 80)),
]

#: Table IX (one run in the paper): GPU memory (GB), time (s/epoch).
PAPER_TABLE_IX = {
    'resnet32': {'e2e': (3.38, 10.44), 'repl': (2.69, 8.20), 'e2e+sd': (3.31, 10.05),
                 'repl+sd': (2.67, 9.36), 'e2e+cp': (1.77, 16.44), 'repl+cp': (1.64, 14.54)},
    'resnet101': {'e2e': (20.95, 720), 'repl': (18.01, 616), 'e2e+sd': (19.39, 652),
                  'repl+sd': (17.12, 551), 'e2e+cp': (14.47, 1012), 'repl+cp': (12.93, 819)},
}

#: Tables XI and XII (A100): deploy vs dynamic RepL, deploy vs E2E (BP) speedups.
PAPER_INFERENCE = {
    'resnet34': dict(dynamic=1.000, e2e=1.264, e2e_channels_last=1.273, e2e_compile=1.290),
    'resnet101': dict(dynamic=1.013, dynamic_b1=1.104, e2e=1.120),
    'vit-small': dict(dynamic=1.006, dynamic_b1=1.139, e2e=1.176),
}

BEGIN, END = '<!-- BEGIN GENERATED -->', '<!-- END GENERATED -->'


def _literal_options(items):
    import ast
    out = {}
    for item in items:
        k, v = item.split('=', 1)
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k] = v
    return out


def run_row(row, args, log):
    """Benchmarks one row; returns the stored record."""
    from .benchmark import run_benchmark
    from .benchmark_options import BenchmarkOptions
    from .specs import load_spec
    use_cfg = os.path.isfile(row['repl']) and os.path.isfile(row['e2e'])
    common = _literal_options(args.cfg_options)  # both models
    options = dict(row.get('cfg_options', {}), **common)  # the row's own: RepL only
    size = args.input_size or row.get('input_size')
    repl = load_spec(row['repl'] if use_cfg else row['preset'], options, size)
    e2e = load_spec(row['e2e'], common, size or repl.input_size) if use_cfg else None
    batch = args.batch_size or row['batch'] * args.batch_scale
    opts = BenchmarkOptions(
        batch_size=batch, device=args.device, reps=args.reps or row.get('reps', 10),
        warmup=args.warmup if args.warmup is not None else row.get('warmup', 2),
        scopes=row['scopes'], compat=row.get('compat', False),
        inference=not args.no_inference, clock=args.clock,
        infer_batch_sizes=[batch if b != 1 else 1 for b in row.get('infer_batches', (batch,))]
        if not args.batch_size else [batch])
    t0 = time.time()
    res = run_benchmark(repl, e2e, opts, log=log)
    if 'input_size' in row and not args.input_size:
        # the analytic prediction at the training size too (meta device: shapes only)
        from .predict import predict_plan
        full = load_spec(row['repl'] if use_cfg else row['preset'], options)
        full_e2e = load_spec(row['e2e'], common, full.input_size) if use_cfg else None
        plan = predict_plan(full, full_e2e, row['batch'], 'backbone', 'meta')
        res['training_size_prediction'] = dict(input_size=plan['input_size'],
                                               batch_size=row['batch'],
                                               ratios=plan['cost']['ratios'])
    res['wall_s'] = time.time() - t0
    return res


def run_backends(args, log):
    """ResNet-34 inference (Table XII), paper plan and explicit plan: FP32, channels_last,
    channels_last + torch.compile, each applied to E2E, dynamic and deploy RepL alike."""
    from .benchmark import run_benchmark
    from .benchmark_options import BenchmarkOptions
    from .specs import load_spec
    out = {}
    for key in ('resnet34', 'resnet34-max'):
        row = next(r for r in ROWS if r['key'] == key)
        use_cfg = os.path.isfile(row['repl']) and os.path.isfile(row['e2e'])
        repl = load_spec(row['repl'] if use_cfg else row['preset'], row.get('cfg_options'))
        e2e = load_spec(row['e2e']) if use_cfg else None
        batch = args.batch_size or row['batch'] * args.batch_scale
        for name, cl, comp in (('fp32', False, False), ('channels_last', True, False),
                               ('channels_last+compile', True, True)):
            opts = BenchmarkOptions(batch_size=batch, device=args.device,
                                    reps=args.reps or 10, warmup=3 if comp else 2,
                                    scopes=('model',), training=False, channels_last=cl,
                                    compile=comp, clock=args.clock)
            t0 = time.time()
            res = run_benchmark(repl, e2e, opts, log=log)
            res['wall_s'] = time.time() - t0
            out[f'{key}/{name}'] = res
    return out


def _pct(ratio):
    return '—' if ratio is None else f'{100 * (1 - ratio):.1f}%'


def _ci_pct(ci):
    """A ratio's 95% interval as reductions, e.g. ``(3.1-7.9%)``."""
    return '' if not ci else f' ({100 * (1 - ci[1]):.1f}..{100 * (1 - ci[0]):.1f}%)'


def _fmt_pct(v):
    return '—' if v is None else f'{v:.1f}%'


def render(data) -> str:
    """The markdown tables of a report JSON."""
    from .report import format_bytes, format_ms
    rows = {r['key']: r for r in ROWS}
    out = []
    machines = {(r['machine']['cpu'], r['machine']['torch'], r['machine']['torch_threads'],
                 r['machine'].get('gpu', '')) for r in data['rows'].values()}
    for cpu, torch_v, threads, gpu in sorted(machines):
        out.append(f'Machine: {cpu}, {threads} torch thread(s){", " + gpu if gpu else ""}, '
                   f'torch {torch_v}.')
    wall = sum(r.get('wall_s', 0) for r in data['rows'].values())
    wall_b = sum(r.get('wall_s', 0) for r in data.get('backends', {}).values())
    out.append(f'Benchmark wall time: {wall / 60:.1f} min for the rows, {wall_b / 60:.1f} min for '
               'the inference backends.\n')
    out.append('### Reductions: paper, analytic (same plan), measured\n')
    out.append('Reductions are `1 - RepL/E2E`. *Analytic* is the cost model of '
               '`repl_mm.analysis.cost_model` '
               '(eq. 42, 53, 58, 76 and the block-time model) for the same plan, *measured* is '
               'the whole RepL model; memory is the activation memory of a training step '
               '(bytes saved for backward), time the training step (forward, backward, '
               'optimizer), both on this CPU.\n')
    out.append('| Model (paper table) | measured | removed blocks | paper: memory / time | '
               'analytic: params / activation / train FLOPs / step time | measured: params / '
               'activation / step time (95% CI) | CUDA peak memory | M_aux, synthesis time | '
               'deploy latency vs E2E (FLOPs) | targets |')
    out.append('|---|---|---|---|---|---|---|---|---|---|')
    for key, row in rows.items():
        r = data['rows'].get(key)
        if r is None or not r.get('scopes'):
            continue
        scope = 'model' if 'model' in r['scopes'] else 'backbone'
        pred = r['scopes'][scope]['predictions']['repl']
        vr = r['scopes'][scope]['variants']['repl']
        pr, mr = pred['ratios'], pred['measured_ratios']
        paper = row.get('paper') or {}
        inf = r.get('inference', {}).get(scope, {})
        dep = ', '.join(f"b{b}: {_pct(v.get('latency_ratio'))} ({_pct(v['flop_ratio'])})"
                        for b, v in inf.items())
        checks = [c for c in r['checks'] if c['name'].startswith(scope)]
        n_ok = sum(c['ok'] for c in checks)
        notes = []
        for status in ('noise', 'MISS'):
            names = [c['name'].split(' ', 1)[1] for c in checks
                     if c.get('status', 'ok' if c['ok'] else 'MISS') == status]
            if names:
                notes.append(f"{'within noise' if status == 'noise' else 'missed'}: "
                             + ', '.join(names))
        aux = (f"{format_bytes(vr['synthesis'])} "
               f"({vr['synthesis'] / max(vr['activation'], 1):.1%}), "
               f"{format_ms(pred['synthesis_time'])}" if pred.get('synthesis_time') is not None
               else format_bytes(vr['synthesis']))
        size = r['input_size']
        out.append(
            f"| {row['label']} ({row['table']}) | {scope}, {r['options']['batch_size']}x"
            f"{size[0]}x{size[1]} | {r['num_removed']}/{sum(r['num_blocks'])} | "
            f"{_fmt_pct(paper.get('memory'))} / {_fmt_pct(paper.get('time'))} | "
            f"{_pct(pr['params'])} / {_pct(pr['activation'])} / {_pct(pr['train_flops'])} / "
            f"{_pct(pr['time'])} | {_pct(mr['params'])} / {_pct(mr['activation'])} / "
            f"{_pct(mr['step_time'])}{_ci_pct(vr.get('step_time_ratio_ci'))} | "
            f"{_pct(mr.get('cuda_peak_bytes')) if mr.get('cuda_peak_bytes') else '—'} | "
            f"{aux} | "
            f"{dep or '—'} | {n_ok}/{len(checks)} ok{'; ' + '; '.join(notes) if notes else ''} |")
    full = [(rows[k]['label'], data['rows'][k]['training_size_prediction'])
            for k in rows if 'training_size_prediction' in data['rows'].get(k, {})]
    if full:
        out.append('\nAt the training input size (analytic, same plan, backbone, meta device: '
                   'shapes only):\n')
        out.append('| Model | input | params | forward FLOPs | train FLOPs | activation |')
        out.append('|---|---|---|---|---|---|')
        for label, p in full:
            r_ = p['ratios']
            out.append(f"| {label} | {p['batch_size']}x{p['input_size'][0]}x"
                       f"{p['input_size'][1]} | {_pct(r_['params'])} | {_pct(r_['flops'])} | "
                       f"{_pct(r_['train_flops'])} | {_pct(r_['activation'])} |")
    # Table IX
    compat = [k for k in rows if k in data['rows'] and len(
        next(iter(data['rows'][k].get('scopes', {'': {'variants': {}}}).values()))['variants']) > 2]
    if compat:
        out.append('\n### Table IX: with stochastic depth (`drop_path_rate=0.1`) and activation '
                   'checkpointing (`with_cp=True`)\n')
        out.append('Activation memory (MiB) and step time (ms) on this CPU, ratio to plain E2E; '
                   'the paper\'s GPU memory (GB) and s/epoch beside. *Predicted* is the cost '
                   'model for the RepL variant against its own E2E twin.\n')
        out.append('| Model | method | activation | vs E2E | step | vs E2E | predicted act / '
                   'time vs twin | paper memory, time | paper vs E2E |')
        out.append('|---|---|---|---|---|---|---|---|---|')
        for key in compat:
            r = data['rows'][key]
            scope = 'model' if 'model' in r['scopes'] else 'backbone'
            sc = r['scopes'][scope]
            ve = sc['variants']['e2e']
            paper = PAPER_TABLE_IX.get(key, {})
            for name in ('e2e', 'repl', 'e2e+sd', 'repl+sd', 'e2e+cp', 'repl+cp'):
                v = sc['variants'].get(name)
                if v is None:
                    continue
                pr = sc['predictions'].get(name, {}).get('ratios')
                pp = paper.get(name)
                pe = paper.get('e2e')
                out.append(
                    f"| {rows[key]['label']} | {name} | {format_bytes(v['activation'])} | "
                    f"{v['activation'] / ve['activation']:.3f} | {format_ms(v.get('step_time'))} | "
                    f"{v.get('step_time_vs_e2e', float('nan')):.3f} | "
                    + (f"{pr['activation']:.3f} / {pr['time']:.3f}" if pr and pr.get('time')
                       else '') + ' | '
                    + (f'{pp[0]} GB, {pp[1]} s | {pp[0] / pe[0]:.3f} / {pp[1] / pe[1]:.3f} |'
                       if pp else '| |'))
    # inference
    out.append('\n### Inference: deploy RepL vs E2E (Table XII) and vs dynamic RepL '
               '(Table XI)\n')
    out.append('Median latency (`torch.inference_mode`, eval). *Speedup* = E2E / deploy and '
               'dynamic / deploy, medians of the ratios of interleaved repetitions (so they '
               'need not equal the ratio of the median latencies on a noisy machine); *FLOP '
               'speedup* = E2E / deploy forward FLOPs; *max abs diff* = deploy vs dynamic RepL '
               'output (relative to the largest output in brackets).\n')
    out.append('| Model | scope | batch | E2E | dynamic RepL | deploy | speedup vs E2E | '
               'FLOP speedup | speedup vs dynamic | max abs diff (rel.) | paper (A100) |')
    out.append('|---|---|---|---|---|---|---|---|---|---|---|')

    def inf_rows(label, key, r, backend=''):
        for scope, inf in r.get('inference', {}).items():
            for b, v in inf.items():
                lat = v.get('latency', {})
                paper = PAPER_INFERENCE.get(key, {})
                ptxt = ', '.join(f'{k}: {x:.3f}x' for k, x in paper.items()) if paper else ''
                out.append(
                    f"| {label}{backend} | {scope} | {b} | {format_ms(lat.get('e2e'))} | "
                    f"{format_ms(lat.get('dynamic'))} | {format_ms(lat.get('deploy'))} | "
                    f"{v.get('deploy_speedup_vs_e2e', float('nan')):.3f}x | "
                    f"{1 / v['flop_ratio']:.3f}x | "
                    f"{v.get('deploy_speedup_vs_dynamic', float('nan')):.3f}x | "
                    f"{v['max_abs_diff']:.1e} ({v['max_rel_diff']:.0e}) | {ptxt} |")
    for key, row in rows.items():
        if key in data['rows']:
            inf_rows(row['label'], key, data['rows'][key])
    for name, r in data.get('backends', {}).items():
        key, backend = name.split('/') if '/' in name else ('resnet34', name)
        inf_rows(rows[key]['label'], key, r, f' ({backend})')
    return '\n'.join(out)


def write_markdown(path: str, body: str) -> None:
    """Replaces the generated block of ``path`` (creates the file if needed), atomically."""
    from ..utils.marked_block import write_marked_block
    write_marked_block(path, BEGIN, END, body)


def run_report(args, log) -> dict:
    """Runs the rows of ``args.only`` (every row and the backends by default) into
    ``args.json`` (merged into the file; saved after every row, so a crash keeps what was
    done), or only reads it with ``args.render_only``; writes the markdown to ``args.md``.

    Raises:
        ValueError: ``args.only`` names an unknown row (names the rows there are).
    """
    import json

    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    data = {'rows': {}, 'backends': {}}
    if os.path.isfile(args.json):
        with open(args.json) as f:
            data = json.load(f)
        data.setdefault('backends', {})
    if not args.render_only:
        from .report import format_report, save_json
        keys = [r['key'] for r in ROWS] + ['backends']
        bad = [k for k in (args.only or []) if k not in keys]
        if bad:
            raise ValueError(f'--only: unknown rows {bad}; rows are {keys}')
        for row in ROWS:
            if args.only and row['key'] not in args.only:
                continue
            res = run_row(row, args, log)
            print(format_report(res), flush=True)
            data['rows'][row['key']] = res
            save_json(data, args.json)  # after every row: a crash keeps what was done
        if not args.only or 'backends' in args.only:
            data['backends'] = run_backends(args, log)
            save_json(data, args.json)
    write_markdown(args.md, render(data))
    return data
