"""Post-training INT8 quantization of a RepL classifier (and its E2E twin), paper Table XVII.

    python tools/deployment/quantize.py CONFIG CHECKPOINT [--e2e E2E_CONFIG E2E_CHECKPOINT]
        [--scheme auto|int8_dynamic_linear|int8_fx_static] [--calib-batches 8]
        [--max-test-batches N] [--latency-batch 8] [--threads 1] [--name NAME]

A thin entry point (``repl-mm-quantize`` once installed):
the logic is repl_mm.cli.quantize.
"""
import sys

from repl_mm.cli.quantize import main, parse_args  # noqa: F401

if __name__ == '__main__':
    sys.exit(main())
