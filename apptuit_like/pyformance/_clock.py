"""Report timestamps: never later than the wall clock, strictly rising per sender.

Stamps are whole milliseconds since the Unix epoch. A report is stamped with
the wall clock, rounded down to the backend's precision (1 ms, or 1,000 ms for
a seconds-only backend); when that is not later than the previous stamp (two
reports within one unit: an exiting worker's final send, a sub-second
interval on a seconds backend) the sender waits for the clock to move on
rather than stamp a point in the future. Only a clock that went backwards
further than one unit (or a deadline too close to wait) gets a stamp just after
the previous one, ahead of the clock: order wins there, or the newest sample of
a counter would no longer be its latest value.
"""
import logging
import time
from typing import Optional

from .._encoding import MAX_SECONDS

log = logging.getLogger("apptuit_like")

UNITS = {"ms": 1, "s": 1000}   # milliseconds per unit of each precision
_SLACK = 0.25   # seconds of waiting beyond one unit before the clock counts as stepped back


def now_ms() -> int:
    """The wall clock in whole milliseconds."""
    return time.time_ns() // 1_000_000


def to_ms(timestamp: float) -> int:
    """A caller's Unix time (seconds, or milliseconds from 1e10 on) in milliseconds.

    >>> to_ms(1700000000), to_ms(1700000000.5), to_ms(1700000000123)
    (1700000000000, 1700000000500, 1700000000123)
    """
    if timestamp >= MAX_SECONDS:   # as the encoder tells the two apart
        return int(timestamp)
    return int(round(timestamp * 1000))


def next_stamp(last: int, unit: int = 1, deadline: Optional[float] = None) -> int:
    """The next report's stamp in milliseconds: the clock rounded down to ``unit``
    ms and later than ``last``. Waits, when it must, for the clock to pass
    ``last`` (under 1 ms, or under a second with ``unit=1000``), never past the
    monotonic ``deadline``.

    >>> last = next_stamp(0)
    >>> later = next_stamp(last)
    >>> last < later <= now_ms()
    True
    >>> next_stamp(0, 1000) % 1000
    0
    """
    while True:
        now = now_ms()
        stamp = now - now % unit
        if stamp > last:
            return stamp
        wait = (last + unit - now) / 1000.0
        if wait > unit / 1000.0 + _SLACK or (
                deadline is not None and time.monotonic() + wait > deadline):
            log.debug("stamping %d ms after the previous report, %.3f s ahead of the "
                      "clock (the clock went back, or no time is left to wait)",
                      unit, wait)
            return last + unit
        time.sleep(wait)


def on_wire(stamp: int, unit: int) -> int:
    """The number sent for a stamp: milliseconds, or whole seconds when ``unit`` is 1000.

    >>> on_wire(1700000000123, 1), on_wire(1700000000000, 1000)
    (1700000000123, 1700000000)
    """
    return stamp // unit
