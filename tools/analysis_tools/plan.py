"""Print, before any training, which blocks a RepL config removes and what it will save
(cost model of the paper's §V-B). See repl_mm.cli.plan.

    python tools/analysis_tools/plan.py CONFIG [E2E_CONFIG] [--remove-fraction F]
        [--scope backbone|model] [--device meta|cpu] [--cfg-options K=V ...] [--json OUT]
"""
from repl_mm.cli.plan import main

if __name__ == '__main__':
    main()
