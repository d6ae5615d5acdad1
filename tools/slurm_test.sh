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
. "$(dirname "$0")/launcher_run.sh"
# the GPU check runs on the compute nodes (train.py/test.py --launcher slurm refuse to start
# when torch sees no GPU there, unless REPL_MM_ALLOW_CPU_DIST=1), not on this submit node
set +x
# the data check once on this node (REPL_MM_SKIP_DATA_CHECK=1 skips it where this node does not
# see the data; --check-data stops there), then srun; SIGTERM / SIGINT to this script reach srun
# and every task (tools/launcher_run.sh's repl_mm_srun, tools/launcher_signals.sh)
repl_mm_srun test "$PARTITION" "$JOB_NAME" "$CONFIG" "$CHECKPOINT" -- "${@:5}"
exit $?
