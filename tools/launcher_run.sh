# Sourced by tools/dist_train.sh, dist_test.sh, slurm_train.sh and slurm_test.sh: the body the
# train and test launchers share (after tools/launcher_python.sh and launcher_signals.sh).
#
# repl_mm_torchrun TOOL KIND NPROC POSITIONAL... -- TOOL_ARGS...
#   TOOL train|test, KIND torchrun|torchrun-test (launcher_signals.sh). Stops at once when torch
#   sees no GPU, unless REPL_MM_ALLOW_CPU_DIST=1 (CPU processes, gloo); checks the data once,
#   before torchrun starts a worker (issue 29; --check-data stops there); then runs
#   tools/TOOL.py POSITIONAL... --launcher pytorch TOOL_ARGS... under torchrun (NNODES,
#   NODE_RANK, MASTER_ADDR, PORT) with the signals forwarded. Returns the run's exit code.
# repl_mm_srun TOOL PARTITION JOB_NAME POSITIONAL... -- TOOL_ARGS...
#   The data check once, on this node, before srun starts a task (REPL_MM_SKIP_DATA_CHECK=1
#   skips it where this node does not see the data; --check-data stops there), then
#   tools/TOOL.py POSITIONAL... --launcher=slurm TOOL_ARGS... under srun (GPUS, GPUS_PER_NODE,
#   CPUS_PER_TASK, SRUN_ARGS), the signals forwarded. The GPU check runs on the compute nodes
#   (train.py/test.py --launcher slurm refuse to start where torch sees no GPU). Returns the
#   run's exit code; REPL_MM_PREEMPTED is set as by repl_mm_run_forwarding.
# Both: the first POSITIONAL is the config; PYTHON as tools/launcher_python.sh picks it.

_repl_mm_tools="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# _repl_mm_split POSITIONAL... -- TOOL_ARGS...: sets _REPL_MM_POS and _REPL_MM_ARGS
_repl_mm_split() {
  _REPL_MM_POS=()
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do _REPL_MM_POS+=("$1"); shift; done
  if [ "$#" -gt 0 ]; then shift; fi
  _REPL_MM_ARGS=("$@")
}

# _repl_mm_data_check TOOL CONFIG TOOL_ARGS...: 1 on missing data; 0 and REPL_MM_CHECKED_ONLY=1
# after --check-data
_repl_mm_data_check() {
  local tool=$1
  shift
  REPL_MM_CHECKED_ONLY=
  "$PYTHON" "$_repl_mm_tools/../repl_mm/datasets/check.py" "$tool" "$@" || return $?
  case " ${*:2} " in *" --check-data "*) REPL_MM_CHECKED_ONLY=1 ;; esac
  return 0
}

repl_mm_torchrun() {
  local tool=$1 kind=$2 nproc=$3
  shift 3
  _repl_mm_split "$@"
  PYTHON="$(repl_mm_python "$_repl_mm_tools/..")"
  "$PYTHON" "$_repl_mm_tools/../repl_mm/utils/envcheck.py" check-dist pytorch || return $?
  _repl_mm_data_check "$tool" "${_REPL_MM_POS[0]}" "${_REPL_MM_ARGS[@]}" || return $?
  if [ -n "$REPL_MM_CHECKED_ONLY" ]; then return 0; fi
  export PYTHONPATH="$_repl_mm_tools/..":$PYTHONPATH
  repl_mm_run_forwarding "tools/dist_$tool.sh" "$kind" \
  "$PYTHON" -m torch.distributed.run \
      --nnodes="${NNODES:-1}" \
      --node_rank="${NODE_RANK:-0}" \
      --master_addr="${MASTER_ADDR:-127.0.0.1}" \
      --nproc_per_node="$nproc" \
      --master_port="${PORT:-29500}" \
      "$_repl_mm_tools/$tool.py" \
      "${_REPL_MM_POS[@]}" \
      --launcher pytorch "${_REPL_MM_ARGS[@]}"
}

repl_mm_srun() {
  local tool=$1 partition=$2 job_name=$3
  shift 3
  _repl_mm_split "$@"
  PYTHON="$(repl_mm_python "$_repl_mm_tools/..")"
  _repl_mm_data_check "$tool" "${_REPL_MM_POS[0]}" "${_REPL_MM_ARGS[@]}" || return $?
  if [ -n "$REPL_MM_CHECKED_ONLY" ]; then return 0; fi
  export PYTHONPATH="$_repl_mm_tools/..":$PYTHONPATH
  # shellcheck disable=SC2086
  repl_mm_run_forwarding "tools/slurm_$tool.sh" srun \
  srun -p "${partition}" \
      --job-name="${job_name}" \
      --gres=gpu:"${GPUS_PER_NODE:-8}" \
      --ntasks="${GPUS:-8}" \
      --ntasks-per-node="${GPUS_PER_NODE:-8}" \
      --cpus-per-task="${CPUS_PER_TASK:-5}" \
      --kill-on-bad-exit=1 \
      ${SRUN_ARGS:-} \
      "$PYTHON" -u "$_repl_mm_tools/$tool.py" "${_REPL_MM_POS[@]}" \
      --launcher="slurm" "${_REPL_MM_ARGS[@]}"
}
