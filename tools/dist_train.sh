#!/usr/bin/env bash
# Multi-process training with torchrun, like the toolboxes' dist_train.sh:
#   tools/dist_train.sh CONFIG NUM_PROCESSES [train.py args]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT. Where torch sees no GPU it stops with the
# likely causes, unless REPL_MM_ALLOW_CPU_DIST=1: then the processes train on CPU with gloo
# (repl_mm.engine.runner.dist). Python: PYTHON, else the activated environment (VIRTUAL_ENV,
# CONDA_PREFIX), else the repository's .venv, else python (tools/launcher_python.sh).
# The data is checked once, before torchrun starts a worker (issue 29); --check-data stops
# there. SIGTERM / SIGINT / SIGUSR1 to this script reach every worker
# (tools/launcher_signals.sh): a train run saves a checkpoint at the next iteration, and no
# process of the run is left. The body is tools/launcher_run.sh's repl_mm_torchrun.
CONFIG=$1
GPUS=$2
. "$(dirname "$0")/launcher_python.sh"
. "$(dirname "$0")/launcher_signals.sh"
. "$(dirname "$0")/launcher_run.sh"
repl_mm_torchrun train torchrun "$GPUS" "$CONFIG" -- "${@:3}"
exit $?
