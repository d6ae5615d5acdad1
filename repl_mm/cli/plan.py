"""Print, before any training, which blocks a RepL config removes and what it will save.

Predictions of the cost model (paper §V-B) from the E2E model's own block shapes: trainable
parameters (eq. 42), forward FLOPs (eq. 53, homogeneous eq. 55), training FLOPs (eq. 76)
and activation memory (eq. 58), per removed block and in total. By default everything is
counted on the meta device (shapes only, instant, no memory).

    python tools/analysis_tools/plan.py configs/resnet101_repl_imagenet.py
    python tools/analysis_tools/plan.py configs/resnet34_repl_imagenet.py \\
        --cfg-options "model.backbone.replace_blocks=[[1],[2],[2,4],[]]"
    python tools/analysis_tools/plan.py configs/retinanet_r50_repl_coco.py \\
        --scope model --device cpu
    python tools/analysis_tools/plan.py configs/cifar-resnet110_repl_cifar10.py \\
        --remove-fraction 0.25
"""
import argparse
from typing import Optional, Sequence


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from ..utils.inputs import add_model_args
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p, 'config', batch_size=1)
    p.add_argument('--scope', choices=['backbone', 'model'], default='backbone')
    p.add_argument('--device', default='meta', help="'meta' (default) or a real device")
    p.add_argument('--remove-fraction', type=float, metavar='F',
                   help='use the replace_blocks plan removing the fraction F of all blocks '
                        '(nearest the rules allow; Tables III-IV "-25%% layers")')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None):
    from ..utils.inputs import run_cli
    return run_cli(parse_args, _main, argv)   # bad input: one line naming the thing and the fix


def _main(args):
    from ..analysis import format_plan, load_spec, predict_plan, save_json
    if args.remove_fraction is not None:
        from ..analysis.fraction import remove_fraction_options
        args.cfg_options.update(
            remove_fraction_options(args.config, args.remove_fraction, args.cfg_options))
    repl = load_spec(args.config, args.cfg_options, args.input_size)
    e2e = load_spec(args.e2e, None, args.input_size or repl.input_size) if args.e2e else None
    plan = predict_plan(repl, e2e, args.batch_size, args.scope, args.device)
    print(format_plan(plan))
    if args.json:
        save_json(plan, args.json)
    return plan
