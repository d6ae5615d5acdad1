#!/usr/bin/env bash
# Multi-process testing with torchrun, like the toolboxes' dist_test.sh:
#   tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [test.py args]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT. Where torch sees no GPU it stops unless
# REPL_MM_ALLOW_CPU_DIST=1 (CPU processes on gloo). Python: as in tools/dist_train.sh.
# The data is checked once, before torchrun starts a worker (issue 29); --check-data stops
# there. SIGTERM / SIGINT / SIGUSR1 to this script reach every worker
# (tools/launcher_signals.sh): a test run stops at once, and no process of the run is left.
# The body is tools/launcher_run.sh's repl_mm_torchrun.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
. "$(dirname "$0")/launcher_python.sh"
. "$(dirname "$0")/launcher_signals.sh"
. "$(dirname "$0")/launcher_run.sh"
repl_mm_torchrun test torchrun-test "$GPUS" "$CONFIG" "$CHECKPOINT" -- "${@:4}"
exit $?
