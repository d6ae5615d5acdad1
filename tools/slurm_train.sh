#!/usr/bin/env bash
# Training on a slurm cluster, like the toolboxes' slurm_train.sh:
#   GPUS=8 tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]
# GPUS (total tasks), GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, PYTHON as environment variables.
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
. "$(dirname "$0")/launcher_python.sh"
PYTHON="$(repl_mm_python "$(dirname "$0")/..")"
# the GPU check runs on the compute nodes (train.py/test.py --launcher slurm refuse to start
# when torch sees no GPU there, unless REPL_MM_ALLOW_CPU_DIST=1), not on this submit node
PY_ARGS=("${@:5}")
# >>> data check (issue 29): once, on this node, before srun starts a task (skip it with
# REPL_MM_SKIP_DATA_CHECK=1 where this node does not see the data); --check-data stops here
"$PYTHON" "$(dirname "$0")/../repl_mm/datasets/check.py" train "$CONFIG" "${@:5}" || exit $?
case " ${*:5} " in *" --check-data "*) exit 0 ;; esac
# <<< data check

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$(dirname "$0")/train.py" "${CONFIG}" --work-dir="${WORK_DIR}" \
    --launcher="slurm" "${PY_ARGS[@]}"
