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
import numbers
import zlib
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from .errors import ApptuitValueError

COMPRESSIONS = ("gzip", "deflate", None)
_SLICE = 2048   # points per compressed slice
_MAX_SECONDS = 1e10   # 2286-11-20: anything larger is milliseconds or worse
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def tags_json(tags: Mapping[str, str]) -> str:
    """Compact JSON of already-sanitized tags, keys sorted."""
    return _dumps(tags)


def series_head(metric: str, tags_text: str) -> str:
    """The shared start of every point of one series."""
    return '{"metric":%s,"tags":%s,"value":' % (_dumps(metric), tags_text)


def timestamp_tail(timestamp_text: str) -> str:
    """The shared end of every point with this timestamp."""
    return ',"timestamp":' + timestamp_text + "}"


def format_value(value: Any) -> Optional[str]:
    """JSON text of a finite number, or None for NaN, infinities and non-numbers.

    >>> format_value(2), format_value(0.5), format_value(float("nan")), format_value("1")
    ('2', '0.5', None, None)
    """
    cls = value.__class__
    if cls is float:
        return repr(value) if value - value == 0 else None
    if cls is int:
        return repr(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return repr(value) if value - value == 0 else None
    return None


def format_timestamp(timestamp: Any) -> Optional[str]:
    """Whole Unix seconds as text, or None when it is not a plausible Unix time."""
    if not isinstance(timestamp, numbers.Real) or isinstance(timestamp, bool):
        return None
    if not 0 <= timestamp < _MAX_SECONDS:   # also False for NaN
        return None
    return str(int(timestamp))


def check_point(describe: str, timestamp: Any, value: Any) -> Tuple[str, str]:
    """Formatted (timestamp, value) of a point, or a ValueError naming the series."""
    ts_text = format_timestamp(timestamp)
    if ts_text is None:
        raise ApptuitValueError("Invalid timestamp %r for %s: expected Unix time in "
                                "seconds" % (timestamp, describe))
    value_text = format_value(value)
    if value_text is None:
        raise ApptuitValueError("Invalid value %r for %s: expected a finite number"
                                % (value, describe))
    return ts_text, value_text


def json_body(points: Sequence[str]) -> bytes:
    """The JSON array of rendered points, UTF-8 encoded.

    >>> json_body(['{"a":1}', '{"b":2}'])
    b'[{"a":1},{"b":2}]'
    """
    return ("[" + ",".join(points) + "]").encode("utf-8")


def encode_body(points: Sequence[str], method: Optional[str]) -> bytes:
    """The request body for ``points``: JSON, compressed for the Content-Encoding.

    Compression streams slices of the array, so no multi-megabyte intermediate
    string is built. Level 1: point JSON still shrinks ~20x there, and the
    reporter's CPU budget matters more than bytes on the wire.

    >>> gzip.decompress(encode_body(['{"a":1}', '{"b":2}'], "gzip"))
    b'[{"a":1},{"b":2}]'
    """
    if method is None:
        return json_body(points)
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31 if method == "gzip" else 15)
    parts = [compressor.compress(b"[")]
    for start in range(0, len(points), _SLICE):
        text = ",".join(points[start:start + _SLICE])
        parts.append(compressor.compress((("," if start else "") + text).encode("utf-8")))
    parts.append(compressor.compress(b"]"))
    parts.append(compressor.flush())
    return b"".join(parts)


def check_compression(method: Optional[str]) -> Optional[str]:
    if method not in COMPRESSIONS:
        raise ApptuitValueError("Invalid compression %r: use 'gzip', 'deflate' or None"
                                % (method,))
    return method


def batches(points: Sequence[str], size: int) -> List[Sequence[str]]:
    """Consecutive slices of at most ``size`` points."""
    return [points[i:i + size] for i in range(0, len(points), size)]
