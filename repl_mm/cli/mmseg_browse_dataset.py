"""mmsegmentation 1.2.2's ``tools/analysis_tools/browse_dataset.py`` with the one fix it needs
in the pinned stack: it hands a strided image to ``SegLocalVisualizer``, whose ``cv2.rectangle``
(OpenCV >= 4.9) refuses it (``cv2.error: ... Layout of the output array img is incompatible with
cv::Mat``). This runs the installed tool unchanged with contiguous images; same arguments::

    python tools/misc/mmseg_browse_dataset.py CONFIG --output-dir DIR --not-show \
        [--cfg-options k=v ...]
"""
import os.path as osp
import runpy
import sys
from typing import Optional, Sequence

import numpy as np


def contiguous_images() -> None:
    """Makes ``SegLocalVisualizer.add_datasample`` take a C-contiguous copy of its image."""
    from mmseg.visualization import SegLocalVisualizer
    add = SegLocalVisualizer.add_datasample
    if getattr(add, '_repl_mm_contiguous', False):
        return

    def add_datasample(self, name, image, *args, **kwargs):
        return add(self, name, np.ascontiguousarray(image), *args, **kwargs)
    add_datasample._repl_mm_contiguous = True
    SegLocalVisualizer.add_datasample = add_datasample


def main(argv: Optional[Sequence[str]] = None) -> None:
    import mmseg
    contiguous_images()
    tool = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'analysis_tools',
                    'browse_dataset.py')
    sys.argv = [tool] + list(sys.argv[1:] if argv is None else argv)
    runpy.run_path(tool, run_name='__main__')


if __name__ == '__main__':
    main()
