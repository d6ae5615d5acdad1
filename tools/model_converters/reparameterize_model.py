"""Convert a trained RepL checkpoint into its deploy form (paper §IV-D1e, eq. 32-33).

    python tools/model_converters/reparameterize_model.py CONFIG SRC_CHECKPOINT DST_CHECKPOINT
        [--force] [--input-size H [W]] [--tolerance 1e-4] [--cfg-options k=v ...]

A thin entry point (``repl-mm-reparameterize`` once installed):
the logic is repl_mm.cli.reparameterize_model.
"""
import sys

from repl_mm.cli.reparameterize_model import main, parse_args  # noqa: F401

if __name__ == '__main__':
    sys.exit(main())
