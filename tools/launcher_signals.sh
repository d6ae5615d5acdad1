# Sourced by tools/dist_train.sh, dist_test.sh, slurm_train.sh and slurm_test.sh.
#
# repl_mm_run_forwarding NAME KIND COMMAND...
#   Runs COMMAND (torchrun or srun) in the background, in its own process group, and waits for
#   it. SIGTERM, SIGINT, SIGUSR1 (and SIGHUP) to this launcher are forwarded:
#   KIND=torchrun: to every worker (the children of torchrun); torchrun itself ends when its
#                  workers have; KIND=torchrun-test: torchrun is killed (it would print a
#                  failure report), its workers get the signal; KIND=srun: to srun, which
#                  forwards them to every task.
#   The train processes (PreemptionCheckpointHook) save one checkpoint at the next iteration
#   and exit; rank 0 writes its final line and exit code to REPL_MM_PREEMPT_STATUS_FILE, and
#   under torchrun the workers exit 0 (REPL_MM_PREEMPT_EXIT_CODE=0) so that torchrun ends
#   without its failure report. Test processes end at once.
#   REPL_MM_STOP_GRACE seconds (default 60) after the first forwarded signal, whatever of the
#   run is left is killed (SIGKILL to its process group): no process outlives the launcher.
#   The launcher's last line says what happened; its exit code is the run's: 0 when finished,
#   the train processes' preemption code (128 + signal number, 143 for SIGTERM) after a
#   preemption checkpoint, 128 + signal number when stopped before one.
#   Sets REPL_MM_STOPPED (the signal name, empty if none) and REPL_MM_PREEMPTED (1 after a
#   preemption checkpoint) for the caller; returns the exit code.

repl_mm_run_forwarding() {
  local name=$1 kind=$2
  shift 2
  local status_file
  status_file=$(mktemp "${TMPDIR:-/tmp}/repl_mm_preempt.XXXXXX") || return 1
  REPL_MM_STOPPED=
  REPL_MM_PREEMPTED=
  export REPL_MM_PREEMPT_STATUS_FILE="$status_file"
  if [ "$kind" = torchrun ]; then
    export REPL_MM_PREEMPT_EXIT_CODE=0
  fi
  # the run gets its own session and process group (setsid execs in the same PID): a Ctrl-C
  # or a signal to this script's process group reaches it through the traps below only
  setsid "$@" </dev/null &
  local child=$! watchdog=
  REPL_MM_WORKERS=
  _repl_mm_forward() {
    local sig=$1
    if [ -z "$REPL_MM_STOPPED" ]; then
      REPL_MM_STOPPED=$sig
      echo "$name: SIG$sig received: stopping the run (a train run saves a checkpoint first)" >&2
      (
        for _ in $(seq "${REPL_MM_STOP_GRACE:-60}"); do sleep 1; done
        for w in $(pgrep -P "$child" 2>/dev/null); do kill -KILL -- "-$w" 2>/dev/null; done
        kill -KILL -- "-$child" 2>/dev/null
      ) </dev/null >/dev/null 2>&1 &
      watchdog=$!
    fi
    # a Ctrl-C means "stop": the processes get SIGTERM (saved by a train run, no
    # KeyboardInterrupt traceback from a test run)
    [ "$sig" = INT ] && sig=TERM
    # torchrun starts each worker in a session of its own: remember them, to end their groups
    REPL_MM_WORKERS="$REPL_MM_WORKERS $(pgrep -P "$child" 2>/dev/null | tr '\n' ' ')"
    if [ "$kind" = torchrun-test ]; then
      # nothing to save: torchrun goes first (no failure report), then its workers
      local workers
      workers=$(pgrep -P "$child" 2>/dev/null)
      kill -KILL "$child" 2>/dev/null
      # shellcheck disable=SC2086
      [ -n "$workers" ] && kill -s "$sig" $workers 2>/dev/null
    elif [ "$kind" = torchrun ]; then
      local workers
      workers=$(pgrep -P "$child" 2>/dev/null)
      if [ -n "$workers" ]; then
        # shellcheck disable=SC2086
        kill -s "$sig" $workers 2>/dev/null
      else
        kill -s "$sig" "$child" 2>/dev/null
      fi
    else
      kill -s "$sig" "$child" 2>/dev/null
    fi
  }
  trap '_repl_mm_forward TERM' TERM
  trap '_repl_mm_forward INT' INT
  trap '_repl_mm_forward USR1' USR1
  trap '_repl_mm_forward HUP' HUP
  local rc=0
  # (stderr of wait: no "Killed" job report from bash)
  { wait "$child"; } 2>/dev/null; rc=$?
  while kill -0 "$child" 2>/dev/null; do
    { wait "$child"; } 2>/dev/null; rc=$?
  done
  { wait "$child"; } 2>/dev/null; rc=$?
  trap - TERM INT USR1 HUP
  # nothing of the run outlives the launcher (a worker that ignored the signal, a loader worker)
  kill -KILL -- "-$child" 2>/dev/null
  local w
  for w in $REPL_MM_WORKERS; do
    kill -KILL -- "-$w" 2>/dev/null
  done
  if [ -n "$watchdog" ]; then
    kill "$watchdog" 2>/dev/null
    wait "$watchdog" 2>/dev/null
  fi
  local code line
  if [ -s "$status_file" ]; then
    code=$(sed -n 1p "$status_file")
    line=$(sed -n 2p "$status_file")
    REPL_MM_PREEMPTED=1
    rm -f "$status_file"
    echo "$name: $line" >&2
    return "$code"
  fi
  rm -f "$status_file"
  if [ -n "$REPL_MM_STOPPED" ]; then
    code=$((128 + $(kill -l "$REPL_MM_STOPPED")))
    echo "$name: stopped by SIG$REPL_MM_STOPPED (exit code $code)" >&2
    return "$code"
  fi
  return "$rc"
}
