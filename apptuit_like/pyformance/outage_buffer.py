"""A bounded, oldest-first store of rendered points that could not be delivered."""
import threading
from collections import deque
from typing import Any, Callable, Deque, Iterator, List, Sequence, Tuple


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
        yield self.drain()

    def settle(self, taken: int, done: int, keep: Sequence[Tuple[int, Sequence[Any]]]) -> int:
        """Keep the units of every retryable failure, backlog included; return how
        many were dropped (the interface of ``DurableBuffer.settle``)."""
        return sum(self.add(units) for _, units in keep)

    def __len__(self) -> int:
        return len(self._points)
