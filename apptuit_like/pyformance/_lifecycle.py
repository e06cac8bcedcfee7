"""The reporter's part in the process's life: a final report at interpreter exit
(and, through ``stop_signals``, at SIGTERM and SIGINT), and in a forked child a
fresh start (or, in a multi-process group, a new identity), with a flush at exit
where multiprocessing would skip ``atexit``.

Reporters are tracked in weak sets, so tracking never keeps one alive.
"""
import atexit
import logging
import os
import sys
import threading
import weakref
from typing import Callable, List, Optional, Protocol

from .. import _config as config

log = logging.getLogger("apptuit_like")



class Managed(Protocol):
    """The life-cycle's view of a reporter."""

    handle_signals: bool
    shutdown_timeout: float

    def stop(self, timeout: Optional[float] = None) -> None:
        """Send the final report and end the reporting thread."""

    def flush(self, timeout: Optional[float] = None) -> None:
        """Report now and go on running."""

    def _after_fork_in_child(self) -> None:
        """Start afresh in a forked child."""


# Started reporters: flushed at interpreter exit, restarted in forked children.
# Reporters of a multi-process group: given a new identity in forked children.
running: "weakref.WeakSet[Managed]" = weakref.WeakSet()
grouped: "weakref.WeakSet[Managed]" = weakref.WeakSet()
_hooks_installed = False
_hooks_lock = threading.Lock()


def track(reporter: Managed, into: "weakref.WeakSet[Managed]") -> None:
    global _hooks_installed
    with _hooks_lock:
        into.add(reporter)
        if not _hooks_installed:
            atexit.register(stop_all)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_restart_in_child)
            _hooks_installed = True


def untrack(reporter: Managed) -> None:
    with _hooks_lock:
        running.discard(reporter)


def stop_all() -> None:
    """Stop every running reporter: each sends its final report."""
    for reporter in list(running):
        reporter.stop()


def flush_all() -> None:
    """Every running reporter reports now, bounded by its ``shutdown_timeout``,
    and keeps running: for a server's shutdown hook, after which the process may
    end without ``atexit`` (uvicorn re-raises the signal it stopped on)."""
    for reporter in list(running):
        reporter.flush()


def _signalled() -> List[Managed]:
    return [reporter for reporter in list(running) if reporter.handle_signals]


def stop_signalled() -> None:
    for reporter in _signalled():
        reporter.stop()


def flush_signalled() -> None:
    for reporter in _signalled():
        reporter.flush()


def within_shutdown_timeout(work: Callable[[], None]) -> bool:
    """Run ``work`` on a thread of its own, waiting at most the longest
    ``shutdown_timeout`` of the reporters (and a second): a signal handler's
    thread may have been interrupted holding a lock the work needs. True when
    the work finished in time."""
    reporters = _signalled()
    if not reporters:
        return True
    bound = max(reporter.shutdown_timeout for reporter in reporters) + 1.0
    worker = threading.Thread(target=work, name="apptuit-shutdown", daemon=True)
    try:
        worker.start()
    except RuntimeError:   # the interpreter is finalizing: no new threads
        work()
        return True
    worker.join(bound)
    if worker.is_alive():
        log.warning("ApptuitReporter: the report at a stop did not finish within %.1f s",
                    bound)
        return False
    return True


def _restart_in_child() -> None:
    global _hooks_lock
    _hooks_lock = threading.Lock()   # it may have been held by another parent thread
    for reporter in set(running) | set(grouped):
        reporter._after_fork_in_child()
    if running and "multiprocessing" in sys.modules:
        _flush_at_multiprocessing_exit()


def _flush_at_multiprocessing_exit() -> None:
    """A multiprocessing child started by fork ends with ``os._exit``: no atexit.
    Its bootstrap clears inherited finalizers and then runs the after-fork hooks,
    and runs finalizers before that exit; so a hook registered now adds one."""
    from multiprocessing import util

    def add_finalizer(_: object) -> None:
        util.Finalize(None, stop_all, exitpriority=10)
    util.register_after_fork(stop_all, add_finalizer)


_fork_warned_in: Optional[int] = None   # the pid that warned, once per process


def warn_fork_once() -> None:
    global _fork_warned_in
    if _fork_warned_in != os.getpid():
        _fork_warned_in = os.getpid()
        log.warning("ApptuitReporter: running in a forked child (pid %d) without "
                    "multiprocess_dir: this process and its parent send the same series "
                    "and overwrite each other's values. Set multiprocess_dir= (or %s) to "
                    "a directory private to this service to report exact totals.",
                    os.getpid(), config.MULTIPROCESS_DIR)
