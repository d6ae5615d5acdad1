"""repl_mm.analysis.runners: benchmark options."""
import pytest

from repl_mm.analysis import runners


def test_options_are_validated():
    with pytest.raises(ValueError, match='scopes'):
        runners.BenchmarkOptions(scopes=('head',)).check()
    with pytest.raises(ValueError, match='batch_size'):
        runners.BenchmarkOptions(batch_size=0).check()
    with pytest.raises(ValueError, match='device'):
        runners.BenchmarkOptions(device='tpu').check()
