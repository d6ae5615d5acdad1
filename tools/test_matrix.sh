#!/usr/bin/env bash
# `make test-matrix` (run by .ci/run after `make test`): the support matrix of
# docs/compatibility.md. Cells (MATRIX_CELLS selects some, e.g. MATRIX_CELLS="mmengine-0.10.5"):
#   pinned          the pinned stack of .venv: the whole suite, run by `make test` (not repeated)
#   mmengine-X      mmengine X (repl_mm/version.py MMENGINE_CELLS: 0.10.4, 0.10.5, 0.10.6) over the
#                   rest of .venv: `pip install --no-deps --target .matrix/mmengine-X` prepended to
#                   PYTHONPATH (mmengine's own dependencies are the same across 0.10.x)
#   onedl           OneDL's fork with numpy 2 and the newest torch onedl-mmcv declares, in
#                   .venv-onedl (or $ONEDL_VENV; tools/install_onedl_env.sh, stamped)
# Each cell first checks that the versions it claims are the ones imported, then runs the subset
# listed in tests/matrix_subset.txt, and prints its wall time. Exit status 1 when a cell failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${MATRIX_PYTHON:-$root/.venv/bin/python}"  # the pinned stack
MATRIX_DIR="$root/.matrix"
# tests/matrix_subset.txt: one node id a line, `a | b` = the first whose file exists
mapfile -t SUBSET < <(python3 - <<'PYSUBSET'
import os
for line in open('tests/matrix_subset.txt'):
    line = line.split('#', 1)[0].strip()
    if not line:
        continue
    options = [o.strip() for o in line.split('|')]
    found = [o for o in options if os.path.exists(o.split('::', 1)[0])]
    if not found:
        raise SystemExit(f'tests/matrix_subset.txt: none of {options} exists')
    print(found[0])
PYSUBSET
)
[[ ${#SUBSET[@]} -gt 0 ]] || { echo "matrix: empty subset (tests/matrix_subset.txt)"; exit 2; }
mapfile -t MMENGINES < <(python3 repl_mm/version.py mmengine-cells)
CELLS="${MATRIX_CELLS:-$(printf 'mmengine-%s ' "${MMENGINES[@]}") onedl}"
PYTEST_ARGS=(-q -p no:cacheprovider -o cache_dir=/dev/null)
declare -a SUMMARY=()
failed=0

run_cell() {  # name, python, PYTHONPATH, expected "module=version ..." pairs
  local name="$1" py="$2" pypath="$3" expect="$4" t0=$SECONDS rc
  echo "matrix: cell $name: checking $expect"
  if ! PYTHONPATH="$pypath" "$py" - "$expect" <<'PYCHECK'
import importlib, sys
bad = []
for pair in sys.argv[1].split():
    mod, want = pair.split('=')
    have = importlib.import_module(mod).__version__
    print(f'  {mod} {have}')
    if not have.startswith(want):
        bad.append(f'{mod} {have} is imported, {want} expected')
if bad:
    sys.exit('; '.join(bad))
PYCHECK
  then
    rc=2
  else
    PYTHONPATH="$pypath" OMP_NUM_THREADS=2 nice -n 5 "$py" -m pytest "${SUBSET[@]}" \
      "${PYTEST_ARGS[@]}" ${PYTEST_MATRIX_ARGS:-}
    rc=$?
  fi
  local secs=$((SECONDS - t0)) verdict=passed
  [[ $rc == 0 ]] || { verdict="FAILED (rc $rc)"; failed=1; }
  echo "matrix: cell $name: $verdict in ${secs} s"
  SUMMARY+=("$(printf '%-18s %-16s %5d s' "$name" "$verdict" "$secs")")
}

for cell in $CELLS; do
  case "$cell" in
    pinned)
      run_cell pinned "$PY" "$root" "mmengine=0.10.7 mmcv=2.1.0 numpy=1." ;;
    mmengine-*)
      v="${cell#mmengine-}" target="$MATRIX_DIR/$cell" t0=$SECONDS
      if [[ ! -f "$target/.stamp" ]]; then
        rm -rf "$target"
        "$PY" -m pip install --isolated --disable-pip-version-check -q --no-deps \
          --target "$target" "mmengine==$v" && touch "$target/.stamp"
      fi
      echo "matrix: cell $cell: set-up $((SECONDS - t0)) s"
      run_cell "$cell" "$PY" "$target:$root" "mmengine=$v mmcv=2.1.0" ;;
    onedl)
      venv="${ONEDL_VENV:-$root/.venv-onedl}" t0=$SECONDS
      if ONEDL_VENV="$venv" nice -n 10 bash tools/install_onedl_env.sh; then
        echo "matrix: cell onedl: set-up $((SECONDS - t0)) s"
        run_cell onedl "$venv/bin/python" "$root" \
          "mmengine=$(python3 repl_mm/version.py pins onedl | sed -n 's/^onedl-mmengine==//p') mmcv=2.3.6 numpy=2. torch=2.14"
      else
        echo "matrix: cell onedl: install FAILED in $((SECONDS - t0)) s"
        SUMMARY+=("$(printf '%-18s %-16s %5d s' onedl 'INSTALL FAILED' $((SECONDS - t0)))")
        failed=1
      fi ;;
    *) echo "matrix: unknown cell '$cell' (cells: pinned mmengine-X onedl)"; exit 2 ;;
  esac
done
echo "matrix: summary (cell, verdict, wall time incl. checks; set-up printed above)"
printf '  %s\n' "${SUMMARY[@]}"
exit $failed
