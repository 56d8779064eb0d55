"""Keep Snakemake's local scheduler from spending the cores the jobs need.

Snakemake 8-9's scheduler (``JobScheduler.schedule``) re-runs its job-selection loop on a
``threading.Timer`` of ``--max-jobs-per-timespan``'s timespan (default ``100/1s``) after *every* pass in
which jobs wait for cores, and each timed pass arms the next. Every finished job starts one more such
chain, so after k jobs the loop runs about k times per timespan, and each pass stats every input of
every waiting job. On the default study (148 jobs, ~12,000 files, 2 cores) the Snakemake process used
about 0.6 of a core that way by the end of the run. The local profiles therefore set a long timespan
(``profiles/default``: ``100000/30s``, a rate no local run reaches, so nothing is throttled) and the
Snakefile cancels the timers still armed when the workflow ends (:func:`cancel_reevaluation_timers`),
because a pending non-daemon timer would otherwise hold the finished process open for up to a timespan.
"""
import threading

SCHEDULER_MODULE_PREFIX = "snakemake"


def cancel_reevaluation_timers():
    """Cancel the armed ``threading.Timer`` threads whose callback comes from Snakemake.

    Called from the Snakefile's ``onsuccess``/``onerror`` hooks, when the scheduler has stopped and no
    re-evaluation is needed any more. Timers of other libraries are left alone.

    Returns
    -------
    int
        How many timers were cancelled.

    Examples
    --------
    >>> cancel_reevaluation_timers() >= 0
    True
    """
    cancelled = 0
    for thread in threading.enumerate():
        callback = getattr(thread, "function", None)
        if (isinstance(thread, threading.Timer) and thread.is_alive() and callback is not None
                and getattr(callback, "__module__", "").startswith(SCHEDULER_MODULE_PREFIX)):
            thread.cancel()
            cancelled += 1
    return cancelled
