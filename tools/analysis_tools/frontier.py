"""The savings frontier: accuracy against measured cost for RepL, remove-only and an equally
cheap shallower E2E network (docs/evidence.md "Savings frontier"). See repl_mm.cli.frontier.

    python tools/analysis_tools/frontier.py configs/cifar-resnet32_repl_fashion-mnist.py \
        --fractions 0.2 0.27 0.4 --seeds 0 1 2 --jobs 2
"""
import sys

from repl_mm.cli.frontier import main

if __name__ == '__main__':
    sys.exit(main())
