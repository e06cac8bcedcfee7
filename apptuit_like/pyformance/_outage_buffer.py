"""A bounded, oldest-first store of rendered points that could not be delivered,
and how a send's outcomes settle either buffer (this one, or ``DurableBuffer``)."""
import threading
from collections import deque
from typing import Any, Callable, Deque, Iterator, List, Protocol, Sequence, Tuple

from ._durable_buffer import DurableBuffer, past


# (index of an outcome's first unit in the send, the units to keep)
Kept = Sequence[Tuple[int, Sequence[Any]]]


class Backlog(Protocol):
    """What the reporter needs of an outage buffer, in memory or on disk."""

    def backlog(self, stopped: Callable[[], bool]) -> Iterator[List[Any]]:
        """The kept units, oldest first, in chunks, until ``stopped()``."""

    def settle(self, taken: int, done: int, keep: Kept) -> int:
        """After a send that began with ``taken`` of them: forget the ``done``
        delivered, keep ``keep``; return how many were dropped to stay bounded."""

    def __len__(self) -> int:
        """Units kept."""


class OutageBuffer:
    """Keeps at most ``max_points`` points; past that the oldest are dropped.

    >>> buffer = OutageBuffer(3)
    >>> buffer.add(["a", "b"]), buffer.add(["c", "d"])
    (0, 1)
    >>> buffer.drain(), len(buffer)
    (['b', 'c', 'd'], 0)
    """

    def __init__(self, max_points: int) -> None:
        if not isinstance(max_points, int) or max_points < 0:
            raise ValueError("max_buffered_points must be a non-negative integer, got %r"
                             % (max_points,))
        self.max_points = max_points
        self._points: Deque[str] = deque(maxlen=max_points)
        self._lock = threading.Lock()

    def add(self, points: Sequence[str]) -> int:
        """Keep ``points`` after those already kept; return how many were dropped."""
        with self._lock:
            dropped = max(0, len(self._points) + len(points) - self.max_points)
            self._points.extend(points)
        return dropped

    def drain(self) -> List[str]:
        """Everything kept, oldest first, leaving the buffer empty."""
        with self._lock:
            points = list(self._points)
            self._points.clear()
        return points

    def backlog(self, stopped: Callable[[], bool]) -> Iterator[List[Any]]:
        """Everything kept, in one chunk, taken out (``settle`` puts back what failed)."""
        if self._points:
            yield self.drain()

    def settle(self, taken: int, done: int, keep: Sequence[Tuple[int, Sequence[Any]]]) -> int:
        """Keep the units of every retryable failure, backlog included; return how
        many were dropped (the interface of ``DurableBuffer.settle``)."""
        return sum(self.add(units) for _, units in keep)

    def __len__(self) -> int:
        return len(self._points)


def _split(outcomes: Sequence[Any], taken: int) -> Tuple[int, List[Tuple[int, Sequence[Any]]]]:
    """(how many of the ``taken`` leading units are gone for good: delivered, or
    refused in a way no retry mends; (position, units) of every retryable failure).
    A failure that stops the send stops it for every later batch, so the units gone
    are a prefix."""
    position = done = 0
    keep: List[Tuple[int, Sequence[Any]]] = []
    for outcome in outcomes:
        size = outcome.success if outcome.ok else len(outcome.points)
        if outcome.retryable:
            keep.append((position, outcome.points))
        elif not keep:
            done = min(taken, position + size)
        position += size
    return done, keep


def settle(buffer: Backlog, taken: int, outcomes: Sequence[Any]) -> Tuple[int, int]:
    """After a send whose first ``taken`` units came from ``buffer``: (units
    dropped to stay bounded, units kept for a later try)."""
    done, keep = _split(outcomes, taken)
    if not (keep or done):
        return 0, 0
    return buffer.settle(taken, done, keep), sum(len(units) for _, units in keep)


def fall_back(failing: DurableBuffer, taken: int, outcomes: Sequence[Any], max_points: int
              ) -> Tuple["OutageBuffer", int, int]:
    """A buffer in memory holding what ``failing`` (a disk buffer that cannot be
    written) still holds and this send's new failures: (it, dropped, kept)."""
    done, keep = _split(outcomes, taken)
    buffer = OutageBuffer(max_points)
    dropped = buffer.add(failing.salvage(done) + past(keep, taken))
    return buffer, dropped, sum(len(units) for _, units in keep)
