"""The reporter's default error handler: a warning, at most once a minute.

An error handler is called as ``handler(status_code, successful, failed,
errors)`` for each batch that failed; whatever it raises is logged, never
propagated into the reporter thread.
"""
import logging
import threading
import time
from typing import Any, Callable, List, Optional

from .._hints import counted

log = logging.getLogger("apptuit_like")

_WARN_EVERY = 60.0   # seconds between warnings of the default error handler

ErrorHandler = Callable[[Optional[int], int, int, List[Any]], Any]


class RateLimitedWarning:
    """Logs at most one warning per period, then says how many it held back."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._next = 0.0
        self._held = 0
        self._lock = threading.Lock()

    def __call__(self, message: str, *args: Any) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                self._held += 1
                return
            held, self._held, self._next = self._held, 0, now + self.period
        suffix = " (%d similar warnings suppressed)" % held if held else ""
        log.warning(message + suffix, *args)


_warn = RateLimitedWarning(_WARN_EVERY)


def default_error_handler(status_code: Optional[int], successful: int, failed: int,
                          errors: List[Any]) -> None:
    """Log a warning to the ``apptuit_like`` logger, at most once a minute."""
    first = errors[0] if errors else None
    detail = first.get("error") if isinstance(first, dict) else first
    _warn("ApptuitReporter: %d of %s failed (HTTP status %s): %s",
          failed, counted(successful + failed, "point"), status_code, detail)
