"""Ship a stream of parsed records: render, batch, send in the background, count.

Records are rendered in chunks and sent through ``deliver_batches`` with
overlap: the next batch is rendered while the previous one is compressed and
sent, at most one batch is in flight, and outcomes are counted (and their points
dropped) as they settle, so memory stays at about two batches whatever the
input size.
"""
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, List, Optional

from .._client import Apptuit
from .._encoding import rebatch, render_point
from ..errors import ApptuitValueError
from .._transport import Outcome, deliver_batches
from .point_input import InputError, parse_tags
from .tables import plural

_CHUNK = 1024   # points rendered between hand-overs to the batcher


@dataclass
class SendSummary:
    """What a stream send did: points sent and failed, bad lines skipped, time taken."""

    sent: int = 0
    failed: int = 0
    bad_lines: int = 0
    stopped_at: Optional[int] = None   # the line --strict stopped at
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.failed or self.bad_lines)

    def __str__(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        text = "sent %s in %.2f s (%.0f points/s), failed %d, bad lines %d" % (
            plural(self.sent, "point"), self.seconds, rate, self.failed, self.bad_lines)
        if self.stopped_at is not None:
            text += "; stopped at line %d (--strict), nothing after it was sent" % self.stopped_at
        return text


def send_records(client: Apptuit, records: Iterable, *, strict: bool = False,
                 retry_count: int = 0, timeout: Optional[float] = None,
                 warn: Callable[[str], object] = print,
                 progress: Optional[Callable[[SendSummary], object]] = None) -> SendSummary:
    """Send every good record; ``warn`` each bad one (with its line) and each failure.

    With ``strict`` the first bad record stops the stream: the points before it
    are sent, nothing after it. ``progress`` sees the summary so far after
    every batch.
    """
    summary = SendSummary()
    started = time.monotonic()

    def count(outcomes: List[Outcome]) -> None:
        for outcome in outcomes:
            summary.sent += outcome.success
            summary.failed += outcome.failed
            if not outcome.ok:
                warn("send failed: " + str(outcome.exception()))
            outcome.points = ()   # counted: the points are not needed again
        if progress is not None:
            summary.seconds = time.monotonic() - started
            progress(summary)

    deliver_batches(client.transport,
                    rebatch(_rendered(client, records, summary, strict, warn),
                            client.batch_size, client.max_request_bytes),
                    client.timeout if timeout is None else timeout,
                    client.retry_policy.with_total(retry_count), overlap=True, settled=count)
    summary.seconds = time.monotonic() - started
    return summary


def _rendered(client: Apptuit, records: Iterable, summary: SendSummary, strict: bool,
              warn: Callable[[str], object]) -> Iterator[List[Any]]:
    """Chunks of rendered points; each bad record is warned about and counted."""
    heads: dict = {}
    chunk: List[Any] = []
    for record in records:
        point = record if isinstance(record, InputError) else _render(client, heads, record)
        if point.__class__ is not InputError:
            chunk.append(point)
            if len(chunk) >= _CHUNK:
                yield chunk
                chunk = []
            continue
        summary.bad_lines += 1
        warn(str(point))
        if strict:
            summary.stopped_at = point.line
            break
    yield chunk


def _render(client: Apptuit, heads: dict, record: tuple):
    """The rendered point of a record, or an InputError naming its line."""
    number, metric, tags, timestamp, value, source = record
    key = (metric, tags if tags.__class__ is str else json.dumps(tags, sort_keys=True))
    try:
        head = heads.get(key)
        if head is None:
            parsed = parse_tags(tags, number, source) if tags.__class__ is str else tags
            if client.wire.name != "opentsdb":   # a unit of another wire, no head cache
                return client.render_units([(metric, parsed, ((timestamp, value),))])[0]
            head = heads[key] = client.series_head(metric, parsed)
        return render_point(head[0], head[1], timestamp, value,
                            client.timestamp_precision == "ms")
    except InputError as err:
        return err
    except ApptuitValueError as err:
        text = str(err)
        if text.startswith("No tags"):   # the client's advice, as a command-line user acts on it
            text += "; on the command line: --tag K=V, or K=V on the line"
        return InputError(number, source, text)
