"""Environment doctor: what is installed, and whether it works together. Run it first when
something fails (``repl-mm-check-env`` once installed)::

    python tools/check_env.py

Every problem is one line ``PROBLEM: ...; fix: ...``; exit status 0 when everything the
installed toolboxes need works, 1 otherwise. It runs repl_mm.cli.check_env by path (found
without importing the package), so it reports even where ``import repl_mm`` fails.
"""
import sys

from repl_mm_launch import check_env

if __name__ == '__main__':
    sys.exit(check_env())
