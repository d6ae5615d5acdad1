#!/usr/bin/env bash
# Multi-process training with torchrun, like the toolboxes' dist_train.sh:
#   tools/dist_train.sh CONFIG NUM_PROCESSES [train.py args]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT. Where torch sees no GPU it stops with the
# likely causes, unless REPL_MM_ALLOW_CPU_DIST=1: then the processes train on CPU with gloo
# (repl_mm.engine.runner.dist). Python: PYTHON, else the activated environment (VIRTUAL_ENV,
# CONDA_PREFIX), else the repository's .venv, else python (tools/launcher_python.sh).
set -e
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
. "$(dirname "$0")/launcher_python.sh"
PYTHON="$(repl_mm_python "$(dirname "$0")/..")"
# stop at once when torch sees no GPU, unless REPL_MM_ALLOW_CPU_DIST=1 (CPU processes, gloo)
"$PYTHON" "$(dirname "$0")/../repl_mm/envcheck.py" check-dist pytorch

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
