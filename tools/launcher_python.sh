# Sourced by tools/dist_train.sh, dist_test.sh, slurm_train.sh and slurm_test.sh.
# repl_mm_python REPO_ROOT prints the Python the launcher runs:
#   PYTHON when set; else the activated environment's (VIRTUAL_ENV, then CONDA_PREFIX); else
#   the repository's .venv (make install); else python on PATH.
repl_mm_python() {
  if [ -n "${PYTHON:-}" ]; then
    echo "$PYTHON"
  elif [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
    echo "$VIRTUAL_ENV/bin/python"
  elif [ -n "${CONDA_PREFIX:-}" ] && [ -x "$CONDA_PREFIX/bin/python" ]; then
    echo "$CONDA_PREFIX/bin/python"
  elif [ -x "$1/.venv/bin/python" ]; then
    echo "$1/.venv/bin/python"
  else
    echo python
  fi
}
