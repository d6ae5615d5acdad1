"""mmengine extensions of repl-mm, registered through mmengine's extension points (issue 22).

The cluster pieces (issue 30) live here: :mod:`.hooks.preemption_hook`,
:mod:`.hooks.model_fingerprint_hook`, :mod:`.loops.resumable_loop`,
:mod:`.runner.workdir_lock` and :mod:`.runner.cluster`.
"""
