"""When to retry and how long to wait: a small immutable policy with pure math.

Waits are capped exponential backoff with full jitter (a uniform draw between 0
and ``min(backoff_max, backoff_factor * 2**attempt)``), unless the server said
how long to wait with ``Retry-After``, which is honoured up to ``retry_after_max``.
"""
import email.utils
import random
from dataclasses import dataclass, replace
from typing import Callable, Optional

from .errors import ApptuitValueError


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry a failed request, and how long to wait between tries.

    >>> policy = RetryPolicy(total=3, backoff_factor=0.5, backoff_max=4)
    >>> [policy.backoff_limit(n) for n in range(5)]
    [0.5, 1.0, 2.0, 4, 4]
    >>> policy.delay(attempt=1, retry_after=None, rand=lambda: 0.5)
    0.5
    >>> policy.delay(attempt=1, retry_after=7.0)
    7.0
    """

    total: int = 0
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 300.0

    def __post_init__(self) -> None:
        if not isinstance(self.total, int) or isinstance(self.total, bool) or self.total < 0:
            raise ApptuitValueError("retry_count must be a non-negative integer, got %r"
                                    % (self.total,))

    def with_total(self, total: int) -> "RetryPolicy":
        return self if total == self.total else replace(self, total=total)

    @staticmethod
    def is_retryable_status(status_code: int) -> bool:
        """429 and every 5xx are worth another try; other answers are final."""
        return status_code == 429 or 500 <= status_code <= 599

    def backoff_limit(self, attempt: int) -> float:
        """Upper bound of the jittered wait before retry number ``attempt + 1``."""
        return min(self.backoff_max, self.backoff_factor * 2.0 ** attempt)

    def delay(self, attempt: int, retry_after: Optional[float],
              rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before the next try: Retry-After when given, else jitter."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_max)
        return rand() * self.backoff_limit(attempt)


def parse_retry_after(value: Optional[str], now: float) -> Optional[float]:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date.

    >>> parse_retry_after("3", now=0), parse_retry_after("soon", now=0)
    (3.0, None)
    >>> parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0)
    6.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)
