"""Points as pre-rendered OpenTSDB JSON objects, bodies, batches and compression.

A point travels through the library as the text of one JSON object, e.g.
``{"metric":"cpu","tags":{"host":"a"},"value":0.5,"timestamp":1700000000}``.
A series renders its head (``{"metric":...,"tags":...,"value":``) once and every
point is then ``head + value + tail``: no per-point dicts, no json.dumps, and a
body is a single join. Buffers hold the same strings, so a point keeps its
timestamp through retries and outages.
"""
import gzip  # noqa: F401  (used by the doctests)
import json
import math
import numbers
import zlib
from bisect import bisect_right
from itertools import accumulate, repeat
from typing import Any, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import cramjam
import orjson

from .errors import ApptuitValueError

_SLICE = 2048   # points per compressed slice
MAX_SECONDS = 1e10   # 2286-11-20: anything larger is milliseconds (or worse)
MAX_MILLIS = 1e13    # the same instant in milliseconds
_INT = {int}
_NUMBERS = {int, float}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def tags_json(tags: Mapping[str, str]) -> str:
    """Compact JSON of already-sanitized tags, keys sorted."""
    return _dumps(tags)


def name_part(metric: str) -> str:
    """The first part of a head, which series of one metric share."""
    return '{"metric":' + _dumps(metric)


def tags_part(tags_text: str) -> str:
    """The second part of a head: the tags, up to the value."""
    return ',"tags":' + tags_text + ',"value":'


def timestamp_tail(timestamp_text: str) -> str:
    """The shared end of every point with this timestamp."""
    return ',"timestamp":' + timestamp_text + "}"


def format_value(value: Any) -> Optional[str]:
    """JSON text of a finite number, or None for NaN, infinities and non-numbers.

    >>> format_value(2), format_value(0.5), format_value(float("nan")), format_value("1")
    ('2', '0.5', None, None)
    >>> from fractions import Fraction
    >>> format_value(Fraction(1, 4)), format_value(Fraction(10 ** 400))
    ('0.25', None)
    """
    cls = value.__class__
    if cls is int:
        return repr(value)
    if cls is not float:
        if not isinstance(value, numbers.Real):
            return None
        try:
            value = float(value)
        except OverflowError:   # a Fraction past the doubles' range
            return None
    return orjson.dumps(value).decode() if value - value == 0 else None


def number_texts(values: Sequence[Any]) -> Sequence[str]:
    """The JSON texts of finite ints and floats, as ``format_value`` writes them,
    at C speed: orjson writes a float's shortest round-trip digits (the double
    ``repr`` writes, sometimes spelt differently: 0.00001 for 1e-05) several
    times faster than ``repr``, and floats are most of a timer's fields.

    >>> number_texts([2, 0.5, 2 ** 70]), number_texts(())
    (['2', '0.5', '1180591620717411303424'], [])
    """
    if not values:
        return []
    try:
        return orjson.dumps(values).decode()[1:-1].split(",")
    except TypeError:   # orjson's error for an int beyond 64 bits, or not a list
        return list(map(format_value, values))   # type: ignore[arg-type]


def format_timestamp(timestamp: Any, millis: bool = False) -> Optional[str]:
    """A Unix time (seconds, or milliseconds from 1e10 on) as the text sent, or
    None when it is neither. With ``millis`` (a backend that takes 13-digit
    stamps) fractional seconds and milliseconds go out as milliseconds; without,
    both are cut to whole seconds. Whole seconds go out as they are.

    >>> format_timestamp(1700000000), format_timestamp(1700000000.25, millis=True)
    ('1700000000', '1700000000250')
    >>> format_timestamp(1700000000250), format_timestamp(1700000000.25), format_timestamp(-1)
    ('1700000000', '1700000000', None)
    """
    if not isinstance(timestamp, numbers.Real) or isinstance(timestamp, bool):
        return None
    stamp: Any = timestamp   # any Real, numpy's included
    if not 0 <= stamp < MAX_MILLIS:   # also False for NaN
        return None
    if stamp >= MAX_SECONDS:
        return str(int(stamp) if millis else int(stamp) // 1000)
    if millis and stamp != int(stamp):
        return str(int(round(float(stamp) * 1000)))
    return str(int(stamp))


def check_point(describe: str, timestamp: Any, value: Any,
                millis: bool = False) -> Tuple[str, str]:
    """Formatted (timestamp, value) of a point, or a ValueError naming the series."""
    ts_text = format_timestamp(timestamp, millis)
    if ts_text is None:
        raise ApptuitValueError("Invalid timestamp %r for %s: expected Unix time in "
                                "seconds or milliseconds" % (timestamp, describe))
    value_text = format_value(value)
    if value_text is None:
        raise ApptuitValueError("Invalid value %r for %s: expected a finite number"
                                % (value, describe))
    return ts_text, value_text


def is_plain(timestamps: Sequence[Any], values: Sequence[Any]) -> bool:
    """True when every timestamp is a whole-second int and every value a finite
    int or float: the common case, checked with C-level loops.

    >>> is_plain([1700000000], [0.5]), is_plain([1700000000], [float("nan")])
    (True, False)
    """
    # a finite sum means no NaN and no infinity among the values
    return bool(timestamps and set(map(type, timestamps)) == _INT
                and 0 <= min(timestamps) and max(timestamps) < MAX_SECONDS
                and set(map(type, values)) <= _NUMBERS and math.isfinite(sum(values)))


def render_plain(head: str, timestamps: Sequence[Any], values: Sequence[Any]) -> List[str]:
    """Points of a series that :func:`is_plain` accepted.

    >>> render_plain('{"metric":"m","tags":{},"value":', [1700000000], [0.5])
    ['{"metric":"m","tags":{},"value":0.5,"timestamp":1700000000}']
    """
    return list(map("".join, zip(repeat(head), number_texts(values), repeat(',"timestamp":'),
                                 map(str, timestamps), repeat("}"))))


def render_point(head: str, describe: str, timestamp: Any, value: Any,
                 millis: bool = False) -> str:
    """One point of a series, checked; a bad one raises ValueError naming the series.

    >>> render_point(name_part("m") + tags_part(tags_json({"a": "b"})), "m{a=b}", 1, 2)
    '{"metric":"m","tags":{"a":"b"},"value":2,"timestamp":1}'
    """
    ts_text, value_text = check_point(describe, timestamp, value, millis)
    return head + value_text + timestamp_tail(ts_text)


def render_checked(head: str, describe: str, timestamps: Sequence[Any], values: Sequence[Any],
                   millis: bool = False) -> List[str]:
    """Points of any series, one by one; a bad point raises ValueError naming it."""
    return [render_point(head, describe, timestamp, value, millis)
            for timestamp, value in zip(timestamps, values)]


def render_batches(jobs: Iterable[Any], batch_size: int,
                   max_bytes: Optional[int] = None) -> Iterator[List[str]]:
    """Batches of points from jobs that are either rendered points or
    ``(head, timestamps, values)`` of a plain series, rendered lazily."""
    return rebatch((job if isinstance(job, list) else render_plain(*job) for job in jobs),
                   batch_size, max_bytes)


def rebatch(chunks: Iterable[List[str]], batch_size: int,
            max_bytes: Optional[int] = None) -> Iterator[List[str]]:
    """Chunks of points of any size as batches of at most ``batch_size`` points
    and, when ``max_bytes`` is given, at most that many bytes of JSON body
    (before compression): whichever limit comes first cuts. A single point
    larger than ``max_bytes`` goes alone. Points may be ``str`` (counted in
    UTF-8) or ``bytes`` (the remote-write wire's units).

    >>> list(rebatch([["a", "b", "c"], [], ["d"]], 2))
    [['a', 'b'], ['c', 'd']]
    >>> [json_body(b) for b in rebatch([['"aaaa"', '"bb"', '"cc"']], 10, max_bytes=12)]
    [b'["aaaa"]', b'["bb","cc"]']
    """
    batch: List[str] = []
    chars = 0   # characters in batch: a lower bound of its bytes
    for chunk in chunks:
        batch += chunk
        if max_bytes is not None:
            chars += sum(map(len, chunk))
        del chunk
        while len(batch) >= batch_size or (max_bytes is not None
                                           and chars + len(batch) + 1 > max_bytes):
            # characters bound the bytes from below: over the cap by them, the cut
            # always leaves points for the next batch
            cut = _fitting(batch, batch_size, max_bytes)
            head, batch = batch[:cut], batch[cut:]
            if max_bytes is not None:
                chars -= sum(map(len, head))
            yield head
            # not held while the next batch is made: a report keeps one batch at a time
            del head
    known: Optional[int] = chars if max_bytes is not None else None
    while batch:   # the rest, which may still hold more than max_bytes
        cut = _fitting(batch, batch_size, max_bytes, known)
        if cut == len(batch):
            yield batch
            return
        yield batch[:cut]
        batch = batch[cut:]
        known = None


def _fitting(points: List[str], batch_size: int, max_bytes: Optional[int],
             chars: Optional[int] = None) -> int:
    """How many leading points fit one request (at least one); ``chars``, when
    given, is the characters in all of ``points``."""
    count = min(len(points), batch_size)
    if max_bytes is None:
        return count
    head = points[:count]
    ascii_only = isinstance(head[0], bytes) or all(map(str.isascii, head))
    if ascii_only and count == len(points) and chars is not None and chars + count < max_bytes:
        return count   # the usual last batch: its size is known already
    sizes = list(map(len, head)) if ascii_only else [len(p.encode("utf-8")) for p in head]
    # a body is "[" + points joined by "," + "]": each point costs its size plus one
    if sum(sizes) + count < max_bytes:
        return count   # all fit, the usual case: summed at C speed
    ends = list(accumulate(size + 1 for size in sizes))
    return max(1, bisect_right(ends, max_bytes - 1))


def json_body(points: Sequence[str]) -> bytes:
    """The JSON array of rendered points, UTF-8 encoded.

    >>> json_body(['{"a":1}', '{"b":2}'])
    b'[{"a":1},{"b":2}]'
    """
    return ("[" + ",".join(points) + "]").encode("utf-8")


class _Deflate:
    """zlib's streaming deflate (RFC 1950) with cramjam's ``Compressor`` methods."""

    __slots__ = ("_stream", "_parts")

    def __init__(self) -> None:
        self._stream = zlib.compressobj(1, zlib.DEFLATED, 15)
        self._parts: List[bytes] = []

    def compress(self, data: bytes) -> None:
        self._parts.append(self._stream.compress(data))

    def finish(self) -> bytes:
        self._parts.append(self._stream.flush())
        return b"".join(self._parts)


class _Uncompressed:
    """The streaming compressor's methods, for bodies sent as they are."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: List[bytes] = []

    def compress(self, data: bytes) -> None:
        self._parts.append(data)

    def finish(self) -> bytes:
        return b"".join(self._parts)


def compressor(method: Optional[str]) -> Any:
    """A streaming compressor for a Content-Encoding, "gzip" or "deflate" (None:
    the body as fed): feed it with ``compress(data)``, take the body from
    ``bytes(finish())``.

    Level 1 either way: the reporter's CPU matters more than bytes on the wire.
    gzip is cramjam's, whose level 1 costs less CPU than zlib's on point JSON for
    slightly larger bodies; deflate stays zlib's, as cramjam's zlib stream is
    broken before 2.13 and 2.11 is the last for Python 3.9.

    >>> stream = compressor("gzip")
    >>> _ = stream.compress(b"[1,2]")
    >>> gzip.decompress(bytes(stream.finish()))
    b'[1,2]'
    """
    if method is None:
        return _Uncompressed()
    return cramjam.gzip.Compressor(level=1) if method == "gzip" else _Deflate()


def encode_body(points: Sequence[str], method: Optional[str]) -> bytes:
    """The request body for ``points``: JSON, compressed for the Content-Encoding.

    Compression streams slices of the array, so no multi-megabyte intermediate
    string is built.

    >>> gzip.decompress(encode_body(['{"a":1}', '{"b":2}'], "gzip"))
    b'[{"a":1},{"b":2}]'
    """
    if method is None:
        return json_body(points)
    stream = compressor(method)
    stream.compress(b"[")
    for start in range(0, len(points), _SLICE):
        text = ",".join(points[start:start + _SLICE])
        stream.compress((("," if start else "") + text).encode("utf-8"))
    stream.compress(b"]")
    return bytes(stream.finish())
