"""A final report when the process is stopped by SIGTERM or SIGINT.

systemd, Docker, Kubernetes and servers' own parents stop a process with SIGTERM,
whose default action ends it without running ``atexit``. The first reporter
started on the main thread (with ``handle_signals``, the default) installs a
handler for SIGTERM and SIGINT that keeps each signal's meaning:

- where the process had a handler of its own (a server's graceful shutdown,
  Python's ``KeyboardInterrupt`` for SIGINT), every running reporter reports now,
  and keeps running, and then that handler is called: the process goes on as it
  would have, and its exit (``atexit``, an ASGI lifespan shutdown) sends once more;
- where the signal would have ended the process, every running reporter stops (its
  final report, and in a group its state published), and the signal is raised
  again with its default action: the process ends with the status it would have had.
  As PID 1 of a container, whose default actions the kernel ignores, it exits with
  status 128 + the signal's number instead, as under an init such as tini.

The report is bounded by each reporter's ``shutdown_timeout`` and made on a thread
of its own, so a lock held by the interrupted code cannot hang the stop. A signal
ignored, or handled outside Python, is left alone.

Example::

    reporter = ApptuitReporter(registry=registry, handle_signals=False)
    reporter.start()                # SIGTERM's handling stays as it was
    install_signal_handlers()       # opt in later, from the main thread
    uninstall_signal_handlers()     # and out again
"""
import logging
import signal
import threading
from types import FrameType
from typing import Any, Callable, Dict, Optional, Union

from . import _lifecycle as lifecycle

__all__ = ["STOP_SIGNALS", "install_signal_handlers", "uninstall_signal_handlers"]

log = logging.getLogger("apptuit_like")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_Handler = Union[Callable[[int, Optional[FrameType]], Any], int, None]

_previous: Dict[int, _Handler] = {}   # the handler each signal had before ours
_active = False                       # False: ours only passes the signal on
_handling = False                     # a signal arrived while ours was reporting
_lock = threading.Lock()
_off_main_warned = False


def install_signal_handlers() -> bool:
    """Watch SIGTERM and SIGINT for every running reporter (see the module's
    docstring); True when the handlers are in place. Only the main thread may
    install them: elsewhere this returns False and changes nothing. Calling it
    again, or after a handler of the application's was put over ours, adds none."""
    global _active
    if threading.current_thread() is not threading.main_thread():
        return False
    with _lock:
        for signum in STOP_SIGNALS:
            if signum in _previous:
                continue
            current = signal.getsignal(signum)
            if current is signal.SIG_IGN or current is None:
                continue   # ignored, or handled outside Python: not ours to change
            signal.signal(signum, _on_signal)
            _previous[signum] = current
        _active = True
    return True


def uninstall_signal_handlers() -> None:
    """Give each signal back the handler it had before ours. Where another
    handler has been put over ours since, ours stays under it, only passing the
    signal on."""
    global _active
    with _lock:
        _active = False
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in list(_previous.items()):
            if signal.getsignal(signum) is _on_signal:
                signal.signal(signum, previous)
                del _previous[signum]


def _installed() -> bool:
    """True while our handlers act on the signals."""
    return _active and bool(_previous)


def _install_for_start() -> None:
    """A reporter is starting: install the handlers from the main thread, or say
    once why a reporter started elsewhere relies on ``atexit`` alone."""
    global _off_main_warned
    if install_signal_handlers() or _installed() or _off_main_warned:
        return
    _off_main_warned = True
    log.info("ApptuitReporter: started off the main thread, so it cannot watch SIGTERM; "
             "call apptuit_like.pyformance.install_signal_handlers() from the main "
             "thread to send a final report when the process is stopped by a signal")


def _on_signal(signum: int, frame: Optional[FrameType]) -> Any:
    previous = _previous.get(signum, signal.SIG_DFL)
    _report(ends=not callable(previous))
    if callable(previous):
        return previous(signum, frame)
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)
    # still here: PID 1 of a PID namespace, where the default action is ignored
    raise SystemExit(128 + signum)


def _report(ends: bool) -> None:
    """Stop every reporter when the signal ends the process, else flush them; once,
    when a second signal arrives during the first's report."""
    global _handling
    if not _active or _handling:
        return
    _handling = True
    try:
        lifecycle.within_shutdown_timeout(
            lifecycle.stop_signalled if ends else lifecycle.flush_signalled)
    finally:
        _handling = False
