"""Ship a stream of parsed records: render, batch, send in the background, count.

Rendering the next batch overlaps with sending the previous one (compression
and network I/O release the GIL), and at most one batch is in flight, so
memory stays at two batches whatever the input size.
"""
import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, List, Optional

from .client import Apptuit
from .encoding import check_point, timestamp_tail
from .errors import ApptuitValueError
from .point_input import InputError, parse_tags
from .transport import Outcome, deliver


@dataclass
class SendSummary:
    """What a stream send did: points sent and failed, bad lines skipped, time taken."""

    sent: int = 0
    failed: int = 0
    bad_lines: int = 0
    stopped_at: Optional[int] = None   # the line --strict stopped at
    seconds: float = 0.0
    failures: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.bad_lines)

    def __str__(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        text = "sent %d points in %.2f s (%.0f points/s), failed %d, bad lines %d" % (
            self.sent, self.seconds, rate, self.failed, self.bad_lines)
        if self.stopped_at is not None:
            text += "; stopped at line %d (--strict), nothing after it was sent" % self.stopped_at
        return text


def send_records(client: Apptuit, records: Iterable, *, strict: bool = False,
                 retry_count: int = 0, timeout: Optional[float] = None,
                 warn: Callable[[str], object] = print) -> SendSummary:
    """Send every good record; ``warn`` each bad one (with its line) and each failure.

    With ``strict`` the first bad record stops the stream: the points before it
    are sent, nothing after it.
    """
    summary = SendSummary()
    started = time.monotonic()
    heads: dict = {}
    batch: List[str] = []
    size = client.batch_size
    ship = _Shipper(client, summary, retry_count, timeout, warn)
    try:
        for record in records:
            point = record if isinstance(record, InputError) else _render(client, heads, record)
            if point.__class__ is str:
                batch.append(point)
                if len(batch) >= size:
                    ship(batch)
                    batch = []
                continue
            summary.bad_lines += 1
            warn(str(point))
            if strict:
                summary.stopped_at = point.line
                break
        if batch:
            ship(batch)
    finally:
        ship.close()
    summary.seconds = time.monotonic() - started
    return summary


def _render(client: Apptuit, heads: dict, record: tuple):
    """The rendered point of a record, or an InputError naming its line."""
    number, metric, tags, timestamp, value, source = record
    key = (metric, tags if tags.__class__ is str else json.dumps(tags, sort_keys=True))
    try:
        head = heads.get(key)
        if head is None:
            parsed = parse_tags(tags, number, source) if tags.__class__ is str else tags
            head = heads[key] = client.series_head(metric, parsed)
        ts_text, value_text = check_point(head[1], timestamp, value)
    except InputError as err:
        return err
    except ApptuitValueError as err:
        return InputError(number, source, str(err))
    return head[0] + value_text + timestamp_tail(ts_text)


class _Shipper:
    """Sends batches on one worker thread, one batch in flight, tallying outcomes."""

    def __init__(self, client: Apptuit, summary: SendSummary, retry_count: int,
                 timeout: Optional[float], warn: Callable[[str], object]) -> None:
        self.client, self.summary, self.warn = client, summary, warn
        self.retry = client.retry_policy.with_total(retry_count)
        self.timeout = client.timeout if timeout is None else timeout
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="apptuit-like-send")
        self.pending: Optional[Future] = None

    def __call__(self, batch: List[str]) -> None:
        self._settle()
        self.pending = self.pool.submit(deliver, self.client.transport, batch,
                                        self.client.batch_size, self.timeout, self.retry)

    def close(self) -> None:
        try:
            self._settle()
        finally:
            self.pool.shutdown()

    def _settle(self) -> None:
        if self.pending is None:
            return
        outcomes: List[Outcome] = self.pending.result()
        self.pending = None
        for outcome in outcomes:
            self.summary.sent += outcome.success
            self.summary.failed += outcome.failed
            if not outcome.ok:
                self.summary.failures.append(outcome.message)
                self.warn("send failed: " + str(outcome.exception()))
