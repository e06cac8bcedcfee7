"""A report holds one batch at a time: a batch that was delivered is freed before
the next one is rendered, so a cycle's peak stays at about one batch however many
series the registry holds."""
import gc
import weakref
from typing import Iterator, List

from apptuit_like._encoding import rebatch
from apptuit_like._retry import RetryPolicy
from apptuit_like._transport import Outcome, deliver_batches


class Point:
    """A stand-in for a rendered point that can be watched with a weak reference."""


class Delivering:
    """A Sender (the transport's protocol) that accepts every batch."""

    def __init__(self) -> None:
        self.posted: List[List[weakref.ref]] = []

    def post(self, points, timeout, retry, deadline=None, sleep=None) -> List[Outcome]:
        self.posted.append([weakref.ref(p) for p in points])
        return [Outcome("ok", points, 204, success=len(points))]

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


def _chunks(sender: Delivering, alive_seen: List[int], count: int, size: int
            ) -> Iterator[List[Point]]:
    """Chunks of fresh points; before each it notes how many points of the batches
    already delivered are still alive."""
    for _ in range(count):
        alive_seen.append(sum(ref() is not None for batch in sender.posted for ref in batch))
        yield [Point() for _ in range(size)]


def test_a_delivered_batch_is_freed_before_the_next_is_rendered():
    sender = Delivering()
    alive_seen: List[int] = []
    gc.disable()   # only reference counts may free the points: what the reporter relies on
    try:
        outcomes = deliver_batches(sender, rebatch(_chunks(sender, alive_seen, 40, 25), 100),
                                   1.0, RetryPolicy(total=0))
    finally:
        gc.enable()
    assert [o.success for o in outcomes] == [100] * 10
    assert len(sender.posted) == 10
    assert max(alive_seen) == 0, alive_seen
