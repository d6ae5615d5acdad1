"""repl_mm/utils/marked_block.py: the generated block of a doc is replaced in place, the
hand-written text around it kept byte for byte, appended when absent, refused when the markers
are out of order."""
import pytest

from repl_mm.utils.marked_block import write_marked_block

B, E = '<!-- BEGIN x -->', '<!-- END x -->'


def test_replaces_in_place_and_keeps_the_rest(tmp_path):
    doc = tmp_path / 'doc.md'
    doc.write_text(f'# Title\n\nintro\n\n{B}\nold\ntable\n{E}\n\nhand-written tail\n')
    write_marked_block(str(doc), B, E, 'new\n')
    assert doc.read_text() == f'# Title\n\nintro\n\n{B}\nnew\n{E}\n\nhand-written tail\n'
    # idempotent: the same body again changes nothing
    before = doc.read_text()
    write_marked_block(str(doc), B, E, 'new')
    assert doc.read_text() == before


def test_appends_after_a_blank_line_and_creates_a_missing_file(tmp_path):
    doc = tmp_path / 'doc.md'
    doc.write_text('# Notes\n\n\n')
    write_marked_block(str(doc), B, E, 'rows')
    assert doc.read_text() == f'# Notes\n\n{B}\nrows\n{E}\n'
    fresh = tmp_path / 'new.md'
    assert write_marked_block(str(fresh), B, E, 'rows', new_file='# Evidence\n') == \
        f'# Evidence\n\n{B}\nrows\n{E}\n'
    other = tmp_path / 'empty.md'
    write_marked_block(str(other), B, E, 'rows')
    assert other.read_text() == f'{B}\nrows\n{E}\n'


def test_markers_out_of_order_are_refused_and_nothing_written(tmp_path):
    doc = tmp_path / 'doc.md'
    text = f'{E}\nstray\n{B}\n'
    doc.write_text(text)
    with pytest.raises(ValueError, match='comes before'):
        write_marked_block(str(doc), B, E, 'rows')
    assert doc.read_text() == text
    assert [p.name for p in tmp_path.iterdir()] == ['doc.md']  # no temporary left behind
