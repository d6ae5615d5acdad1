"""mmsegmentation 1.2.2's ``tools/analysis_tools/browse_dataset.py`` with the one fix it needs
in the pinned stack: it hands a strided image to ``SegLocalVisualizer``, whose ``cv2.rectangle``
(OpenCV >= 4.9) refuses it (``cv2.error: ... Layout of the output array img is incompatible with
cv::Mat``). This runs the installed tool unchanged with contiguous images; same arguments::

    python tools/misc/mmseg_browse_dataset.py CONFIG --output-dir DIR --not-show \
        [--cfg-options k=v ...]

A thin entry point: the logic is repl_mm.cli.mmseg_browse_dataset.
"""
from repl_mm.cli.mmseg_browse_dataset import main  # noqa: F401

if __name__ == '__main__':
    main()
