"""Export a RepL model in its deploy form to ONNX and check it in onnxruntime.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT OUT.onnx [--input-size H [W]]
        [--batch 1] [--opset 17] [--tolerance 1e-4] [--force] [--cfg-options k=v ...]

A thin entry point (``repl-mm-export-onnx`` once installed):
the logic is repl_mm.cli.pytorch2onnx.
"""
import sys

from repl_mm.cli.pytorch2onnx import main, parse_args  # noqa: F401

if __name__ == '__main__':
    sys.exit(main())
