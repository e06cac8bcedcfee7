"""Ctrl-C and SIGTERM for the command, in a form that cannot be lost.

Python drops an exception raised inside a finalizer or a weakref callback (it
prints "Exception ignored in ..."), and a signal's handler runs wherever the main
thread happens to be: inside urllib3's finalizer closing a collected pool, a
``KeyboardInterrupt`` vanishes and a 60 s demo runs on. So the handler also sets
an event, and the command's waits and loops check it.

Example::

    with Interrupts() as interrupts:
        for record in interrupts.checked(records):
            ...
        interrupts.wait(0.25)   # KeyboardInterrupt once Ctrl-C was pressed
"""
import signal
import threading
from types import FrameType, TracebackType
from typing import Any, Dict, Iterable, Iterator, Optional, Type, TypeVar

__all__ = ["Interrupts"]

T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """While entered (on the main thread), SIGINT and SIGTERM set :attr:`event`
    and raise ``KeyboardInterrupt``; on exit each signal gets its handler back.
    Where a handler was put over ours meanwhile (a reporter's, see
    ``stop_signals``), ours stays under it and passes the signal on as the handler
    before it would have. Not entered, it never fires: its waits are plain sleeps."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: Dict[int, Any] = {}
        self._entered = False

    def __enter__(self) -> "Interrupts":
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                current = signal.getsignal(signum)
                if current is not None and current != signal.SIG_IGN:   # ignored stays so
                    self._previous[signum] = signal.signal(signum, self._handle)
            self._entered = True
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], error: Optional[BaseException],
                 trace: Optional[TracebackType]) -> None:
        self._entered = False
        for signum, previous in self._previous.items():
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, previous)

    def _handle(self, signum: int, frame: Optional[FrameType]) -> Any:
        if self._entered:
            self.event.set()
            raise KeyboardInterrupt
        previous = self._previous[signum]
        if callable(previous):
            return previous(signum, frame)
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
        return None

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` when a signal has arrived, even one whose
        exception was swallowed where it landed."""
        if self.event.is_set():
            raise KeyboardInterrupt

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``; ``KeyboardInterrupt`` as soon as a signal arrives."""
        if self.event.wait(seconds):
            raise KeyboardInterrupt

    def checked(self, items: Iterable[T]) -> Iterator[T]:
        """``items``, checking for a signal before each one."""
        for item in items:
            self.check()
            yield item
