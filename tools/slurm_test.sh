#!/usr/bin/env bash
# Testing on a slurm cluster, like the toolboxes' slurm_test.sh:
#   GPUS=8 tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
. "$(dirname "$0")/launcher_python.sh"
. "$(dirname "$0")/launcher_signals.sh"
PYTHON="$(repl_mm_python "$(dirname "$0")/..")"
# the GPU check runs on the compute nodes (train.py/test.py --launcher slurm refuse to start
# when torch sees no GPU there, unless REPL_MM_ALLOW_CPU_DIST=1), not on this submit node
PY_ARGS=("${@:5}")
# >>> data check (issue 29): once, on this node, before srun starts a task (skip it with
# REPL_MM_SKIP_DATA_CHECK=1 where this node does not see the data); --check-data stops here
"$PYTHON" "$(dirname "$0")/../repl_mm/datasets/check.py" test "$CONFIG" "${@:5}" || exit $?
case " ${*:5} " in *" --check-data "*) exit 0 ;; esac
# <<< data check

# SIGTERM / SIGINT to this script reach srun and every task (tools/launcher_signals.sh)
export PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH
set +x
# shellcheck disable=SC2086
repl_mm_run_forwarding "tools/slurm_test.sh" srun \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$(dirname "$0")/test.py" "${CONFIG}" "${CHECKPOINT}" \
    --launcher="slurm" "${PY_ARGS[@]}"
exit $?
