#!/usr/bin/env bash
# Multi-process testing with torchrun, like the toolboxes' dist_test.sh:
#   tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [test.py args]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT. Where torch sees no GPU it stops unless
# REPL_MM_ALLOW_CPU_DIST=1 (CPU processes on gloo). Python: as in tools/dist_train.sh.
set -e
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
. "$(dirname "$0")/launcher_python.sh"
. "$(dirname "$0")/launcher_signals.sh"
PYTHON="$(repl_mm_python "$(dirname "$0")/..")"
# stop at once when torch sees no GPU, unless REPL_MM_ALLOW_CPU_DIST=1 (CPU processes, gloo)
"$PYTHON" "$(dirname "$0")/../repl_mm/utils/envcheck.py" check-dist pytorch
# >>> data check (issue 29): once, before torchrun starts a worker; --check-data stops here
"$PYTHON" "$(dirname "$0")/../repl_mm/datasets/check.py" test "$CONFIG" "${@:4}" || exit $?
case " ${*:4} " in *" --check-data "*) exit 0 ;; esac
# <<< data check

# SIGTERM / SIGINT / SIGUSR1 to this script reach every worker (tools/launcher_signals.sh): a
# test run stops at once, and no process of the run is left
set +e
export PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH
repl_mm_run_forwarding "tools/dist_test.sh" torchrun-test \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$(dirname "$0")/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch \
    "${@:4}"
exit $?
