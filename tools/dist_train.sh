#!/usr/bin/env bash
# Multi-process training with torchrun, like the toolboxes' dist_train.sh:
#   tools/dist_train.sh CONFIG NUM_PROCESSES [train.py args]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT. Without GPUs the processes train on CPU
# with gloo (repl_mm.runtime.dist). PYTHON selects the interpreter (default: python).
set -e
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
# default: the repository's .venv (make install), else the python on PATH
VENV_PY="$(dirname "$0")/../.venv/bin/python"
[ -x "$VENV_PY" ] && DEFAULT_PY="$VENV_PY" || DEFAULT_PY=python
PYTHON=${PYTHON:-$DEFAULT_PY}

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
