"""The Prometheus remote write 1.0 wire: a protobuf ``WriteRequest`` in a snappy
block, posted to the receiver's remote-write URL.

The four messages are encoded by hand (a few varints): no ``protobuf`` version
pinned in users' environments. tests/test_wire_remote_write.py proves the bytes
identical to protobuf's own encoding::

    WriteRequest { repeated TimeSeries timeseries = 1; }
    TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    Label        { string name = 1; string value = 2; }
    Sample       { double value = 1; int64 timestamp = 2; }   // ms

A unit is one encoded ``timeseries`` field (one sample), so a body is their
concatenation: batches, buffers and retries handle units like JSON points.
Labels go sorted by name with ``__name__`` in its place; names are made valid
for Prometheus (the prometheus sanitizer) whatever ``sanitize_mode`` says.
Stamps are always milliseconds.

>>> wire = RemoteWriteWire()
>>> unit = []
>>> names = wire.field_parts("up", ("",), str)
>>> keys = [wire.key_part("up", ("",), {"job": "a"}, str)]
>>> wire.render(names, keys, [1], wire.tail(1700000000000), unit, True, 1)
0
>>> unit[0].hex()
'0a2c0a0e0a085f5f6e616d655f5f120275700a080a036a6f62120161121009000000000000f03f1080d095ffbc31'
"""
import math
import numbers
import operator
import struct
from itertools import repeat
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

import cramjam

from .._sanitize import sanitize_name_prometheus
from . import SKIP, Wire

_SMALL = [bytes([i]) for i in range(128)]
_pack_double = struct.Struct("<d").pack
_NAME = b"__name__"
_PLAIN = frozenset([int, float])
_ZERO = _pack_double(0.0)
_LEFT_OUT = {_ZERO: b""}   # +0.0: proto3's default, no value field
_first, _second = operator.itemgetter(0), operator.itemgetter(1)


def varint(number: int) -> bytes:
    """Protobuf's base-128 varint of a non-negative int.

    >>> varint(1).hex(), varint(300).hex()
    ('01', 'ac02')
    """
    if number < 128:
        return _SMALL[number]
    out = bytearray()
    while number >= 128:
        out.append((number & 127) | 128)
        number >>= 7
    out.append(number)
    return bytes(out)


def _string_field(tag: bytes, text: bytes) -> bytes:
    return tag + varint(len(text)) + text


def label(name: bytes, value: bytes) -> bytes:
    """One ``labels`` field of a TimeSeries: a Label message, length-prefixed."""
    message = _string_field(b"\x0a", name) + _string_field(b"\x12", value)
    return b"\x0a" + varint(len(message)) + message


class RemoteWriteWire(Wire):
    name = "remote_write"
    content_type = "application/x-protobuf"
    compressions = ("snappy",)
    extra_headers = {"X-Prometheus-Remote-Write-Version": "0.1.0"}

    def check_compression(self, compression: Optional[str]) -> Optional[str]:
        """Always snappy, which the protocol requires: ``compression`` is ignored."""
        return "snappy"

    def url(self, endpoint: str) -> str:
        """The remote-write URL as given; a bare ``http://host:port`` gets
        ``/api/v1/write``, the path Prometheus and VictoriaMetrics use."""
        return endpoint if urlsplit(endpoint).path.strip("/") else endpoint + "/api/v1/write"

    def field_parts(self, name: str, fields: Sequence[str], sanitize: Any) -> Tuple[Any, ...]:
        return tuple(label(_NAME, sanitize_name_prometheus(
            sanitize(name + "." + f if f else name)).encode("utf-8")) for f in fields)

    def key_part(self, name: str, fields: Sequence[str], tags: Dict[str, str],
                 sanitize: Any) -> Tuple[bytes, bytes]:
        """The tag labels sorted, split where ``__name__`` goes: (before, after)."""
        labels = sorted((sanitize_name_prometheus(key).encode("utf-8"), value.encode("utf-8"))
                        for key, value in tags.items())
        before = b"".join(label(k, v) for k, v in labels if k < _NAME)
        after = b"".join(label(k, v) for k, v in labels if k > _NAME)
        return before, after

    def tail(self, timestamp: int) -> bytes:
        return b"\x10" + varint(timestamp) if timestamp else b""

    def render(self, names: Sequence[Optional[bytes]], keys: Sequence[Any],
               values: Sequence[Any], tail: bytes, out: List[Any], heads_ok: bool,
               width: int) -> int:
        if heads_ok and _PLAIN.issuperset(map(type, values)):
            try:
                total = math.fsum(values)
            except (OverflowError, ValueError):   # a sum past the doubles' range, inf - inf
                total = math.inf
            if total - total == 0:   # every value finite: render them all at C speed
                _render_finite(names, keys, values, tail, out)
                return 0
        invalid = 0
        append = out.append
        for name, key, value in zip(names, keys, values):
            if value.__class__ is not float:
                if value is SKIP:
                    continue
                value = _as_float(value)
            if value - value != 0 or name is None or key is None:   # NaN, ±inf, None
                invalid += 1
                continue
            append(_unit(name, key, value, tail))
        return invalid

    def body(self, units: Sequence[bytes], compression: Optional[str]) -> bytes:
        return bytes(cramjam.snappy.compress_raw(b"".join(units)))


def _unit(name: bytes, key: Tuple[bytes, bytes], value: float, tail: bytes) -> bytes:
    """One ``timeseries`` field. proto3 leaves out a field at its default: a
    sample of +0.0 has no value field."""
    sample = (b"\x09" + _pack_double(value) + tail
              if value or math.copysign(1.0, value) < 0 else tail)
    series = key[0] + name + key[1] + b"\x12" + _SMALL[len(sample)] + sample
    return b"\x0a" + varint(len(series)) + series


class _FieldHeads(Dict[int, bytes]):
    """The tag and length of a ``timeseries`` field by its length, made once."""

    def __missing__(self, length: int) -> bytes:
        head = self[length] = b"\x0a" + varint(length)
        return head


_FIELD_HEADS = _FieldHeads()


def _render_finite(names: Sequence[Any], keys: Sequence[Tuple[bytes, bytes]],
                   values: Sequence[Any], tail: bytes, out: List[Any]) -> None:
    """Units of finite int and float values, each step a C loop over them all.
    A sample of +0.0 is only its tail (see ``_unit``): lookups by its double's
    bytes give it its own head and leave the double out."""
    doubles = list(map(_pack_double, values))
    heads = map({_ZERO: b"\x12" + _SMALL[len(tail)]}.get, doubles,
                repeat(b"\x12" + _SMALL[9 + len(tail)] + b"\x09"))
    series = list(map(b"".join, zip(map(_first, keys), names, map(_second, keys), heads,
                                    map(_LEFT_OUT.get, doubles, doubles), repeat(tail))))
    out.extend(map(bytes.__add__, map(_FIELD_HEADS.__getitem__, map(len, series)), series))


def _as_float(value: Any) -> float:
    """A real number as a float; NaN (counted invalid) for anything else, and for
    an int past the doubles' range."""
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            return math.nan
    return math.nan
