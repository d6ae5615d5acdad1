"""One generated block of a hand-written markdown file, between two HTML-comment markers.

The documentation tools (``tools/analysis_tools/evidence.py``, ``frontier.py``,
``benchmark_report.py``) write their tables into docs that people also edit: only the text
between ``begin`` and ``end`` is theirs, everything around it is kept byte for byte. The file
is replaced atomically (:func:`repl_mm.utils.atomic_write.atomic_write_text`), so a crash
leaves either the old or the new document, never half of one.
"""
import os.path as osp

from .atomic_write import atomic_write_text

__all__ = ['write_marked_block']


def write_marked_block(path: str, begin: str, end: str, body: str, new_file: str = '') -> str:
    """Puts ``begin``, ``body`` and ``end`` (one line break between each) into ``path``: in
    place of the block between the markers when both are there, else appended after one blank
    line (a missing file starts as ``new_file``).

    Returns:
        str: the whole new text of the file.

    Raises:
        ValueError: ``end`` comes before ``begin`` in the file (a hand edit broke the markers;
            nothing is written).
    """
    text = open(path).read() if osp.isfile(path) else new_file
    block = f'{begin}\n{body.rstrip(chr(10))}\n{end}'
    if begin in text and end in text:
        i, j = text.index(begin), text.index(end)
        if j < i:
            raise ValueError(f'{path}: the marker {end!r} comes before {begin!r}; put the '
                             'generated block back between them (or delete both to append it)')
        text = text[:i] + block + text[j + len(end):]
    else:
        text = (text.rstrip('\n') + '\n\n' if text.strip() else '') + block + '\n'
    atomic_write_text(path, text)
    return text
