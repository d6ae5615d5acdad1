#!/usr/bin/env bash
# Training on a slurm cluster, like the toolboxes' slurm_train.sh:
#   GPUS=8 tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [--signal=B:USR1@SECONDS]
#       [--requeue] [train.py args]
# GPUS (total tasks), GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, PYTHON as environment variables.
#
# Preemption (docs/training.md, "On a cluster"): SIGTERM, SIGINT or SIGUSR1 to this script is
# forwarded to srun and so to every task: each saves one checkpoint at the next iteration
# (PreemptionCheckpointHook) and the script ends with the run's line and exit code.
#   --signal=[B:]SIG@SECONDS  the early warning slurm sends before the time limit: give the same
#                             value to sbatch (#SBATCH --signal=B:USR1@120); run outside sbatch
#                             it is passed to srun as --signal=SIG@SECONDS (to the tasks).
#   --requeue                 inside an sbatch job (#SBATCH --requeue): after a preemption
#                             checkpoint the job requeues itself (scontrol requeue), and a
#                             requeued job resumes by itself from the work dir's newest
#                             checkpoint (--resume is added when WORK_DIR/last_checkpoint
#                             exists).
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
. "$(dirname "$0")/launcher_signals.sh"
. "$(dirname "$0")/launcher_run.sh"
# the GPU check runs on the compute nodes (train.py/test.py --launcher slurm refuse to start
# when torch sees no GPU there, unless REPL_MM_ALLOW_CPU_DIST=1), not on this submit node
PY_ARGS=()
SIGNAL_SPEC=
REQUEUE=
HAS_RESUME=
for arg in "${@:5}"; do
  case "$arg" in
    --signal=*) SIGNAL_SPEC=${arg#--signal=} ;;
    --requeue) REQUEUE=1 ;;
    --resume|--resume=*) HAS_RESUME=1; PY_ARGS+=("$arg") ;;
    *) PY_ARGS+=("$arg") ;;
  esac
done
set +x
if [ -n "$SIGNAL_SPEC" ] && ! [[ "$SIGNAL_SPEC" =~ ^(B:|R:)?(SIG)?[A-Z0-9]+@[0-9]+$ ]]; then
  echo "tools/slurm_train.sh: --signal must look like B:USR1@120 ([B:]SIGNAL@SECONDS), got '$SIGNAL_SPEC'" >&2
  exit 2
fi
if [ -n "$REQUEUE" ] && [ -z "${SLURM_JOB_ID:-}" ]; then
  echo "tools/slurm_train.sh: --requeue needs an sbatch job (run this script from an sbatch script with #SBATCH --requeue; see docs/training.md, 'On a cluster')" >&2
  exit 2
fi
if [ -n "$SIGNAL_SPEC" ] && [ -z "${SLURM_JOB_ID:-}" ]; then
  # outside sbatch: srun sends the early signal to the tasks themselves
  SRUN_ARGS="$SRUN_ARGS --signal=${SIGNAL_SPEC#B:}"
fi
if [ -n "$REQUEUE" ] && [ -z "$HAS_RESUME" ] && [ -s "$WORK_DIR/last_checkpoint" ]; then
  echo "tools/slurm_train.sh: $WORK_DIR/last_checkpoint exists (requeued job, restart ${SLURM_RESTART_COUNT:-0}): resuming from it" >&2
  PY_ARGS+=(--resume)
fi
# the data check once on this node, then srun (tools/launcher_run.sh's repl_mm_srun)
repl_mm_srun train "$PARTITION" "$JOB_NAME" "$CONFIG" --work-dir="${WORK_DIR}" -- "${PY_ARGS[@]}"
RC=$?
if [ -n "$REQUEUE" ] && [ -n "$REPL_MM_PREEMPTED" ]; then
  echo "tools/slurm_train.sh: requeueing job $SLURM_JOB_ID (it resumes from $WORK_DIR/last_checkpoint)" >&2
  scontrol requeue "$SLURM_JOB_ID"
fi
exit $RC
