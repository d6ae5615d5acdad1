"""FLOPs and parameters of an mmseg config: the workaround for mmsegmentation 1.2.2's
``tools/analysis_tools/get_flops.py``, which fails with mmengine 0.10.7 (``ValueError: "input_shape"
and "inputs" cannot be both set.``). Same counting (mmengine's ``get_model_complexity_info``,
auxiliary head dropped, SyncBN reverted), same command line::

    python tools/misc/mmseg_get_flops.py CONFIG [--shape H W] [--cfg-options k=v ...]

A thin entry point: the logic is repl_mm.cli.mmseg_get_flops.
"""
from repl_mm.cli.mmseg_get_flops import main, parse_args  # noqa: F401

if __name__ == '__main__':
    main()
