"""The InfluxDB line protocol wire: one line per registry key and cycle.

``orders,city=BLR,service=api count=3 1700000000000``: the measurement is the
metric's sanitized name, its fields are the metric's fields (``count``,
``1m_rate``, ``95_percentile``...), the stamp is in milliseconds
(``precision=ms``). Every value is written as an Influx float: a field whose
type changed between writes (``3i``, then ``3.5``) would make InfluxDB refuse
the line. A point without fields of its own (the client's ``DataPoint``, process
metrics) splits its name at the last dot: ``cpu.percent`` is measurement ``cpu``,
field ``percent``; a name without a dot gets the field ``value``.

VictoriaMetrics stores ``measurement_field``: the same names as the OpenTSDB
wire sends. Posted to ``/write`` (InfluxDB 1.x, VictoriaMetrics; ``database``
for InfluxDB) or ``/api/v2/write`` (InfluxDB 2, with ``org`` and ``bucket``).

>>> wire = InfluxWire()
>>> out = []
>>> wire.render(wire.field_parts("lat", ("count", "max"), str) * 2,
...             [wire.key_part("lat", ("count", "max"), {"a b": "c,d"}, str)] * 4,
...             [2, 0.5, 1, float("nan")], wire.tail(1700000000000), out, True, 2)
1
>>> out
['lat,a\\\\ b=c\\\\,d count=2,max=0.5 1700000000000\\n', 'lat,a\\\\ b=c\\\\,d count=1 1700000000000\\n']
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlencode

from .._encoding import compressor, format_value
from ..errors import ApptuitValueError
from . import SKIP, Wire

_MEASUREMENT = str.maketrans({",": "\\,", " ": "\\ "})
_KEY = str.maketrans({",": "\\,", " ": "\\ ", "=": "\\="})


def _split(name: str, fields: Sequence[str]) -> Tuple[str, Sequence[str]]:
    """(measurement name, field names): a lone field "" splits the name."""
    if tuple(fields) != ("",):
        return name, fields
    base, dot, last = name.rpartition(".")
    return (base, (last,)) if dot and base and last else (name, ("value",))


def _no_newline(text: str, what: str) -> str:
    if "\n" in text or "\r" in text:
        raise ApptuitValueError("%s %r holds a line break, which line protocol cannot carry"
                                % (what, text))
    return text


class InfluxWire(Wire):
    name = "influx"
    content_type = "text/plain; charset=utf-8"
    frame = ("", "", "")   # the body is the lines, each ending in a newline

    def __init__(self, database: Optional[str] = None, org: Optional[str] = None,
                 bucket: Optional[str] = None) -> None:
        if bool(org) != bool(bucket):
            raise ApptuitValueError("InfluxDB 2 needs both org and bucket, got org=%r, "
                                    "bucket=%r" % (org, bucket))
        self.database, self.org, self.bucket = database, org, bucket

    def url(self, endpoint: str) -> str:
        if self.bucket:
            return endpoint + "/api/v2/write?" + urlencode(
                {"org": self.org, "bucket": self.bucket, "precision": "ms"})
        query = {"db": self.database} if self.database else {}
        return endpoint + "/write?" + urlencode(dict(query, precision="ms"))

    def auth_header(self, token: str) -> str:
        # InfluxDB 2 takes an API token as "Token"; 1.x a JWT as "Bearer" (its
        # user and password go as basic auth, from the URL or ~/.netrc)
        return ("Token " if self.bucket else "Bearer ") + token

    def field_parts(self, name: str, fields: Sequence[str], sanitize: Any) -> Tuple[Any, ...]:
        # sanitized as the tail of a dotted name, so "95_percentile" keeps its
        # leading digit as it does in the OpenTSDB wire's "lat_95_percentile"
        _, keys = _split(name, fields)
        return tuple(_no_newline(sanitize("x." + key)[2:], "field").translate(_KEY) + "="
                     for key in keys)

    def key_part(self, name: str, fields: Sequence[str], tags: Dict[str, str],
                 sanitize: Any) -> str:
        measurement = _no_newline(sanitize(_split(name, fields)[0]), "metric name")
        return measurement.translate(_MEASUREMENT) + "".join(
            "," + _no_newline(key, "tag key").translate(_KEY) + "="
            + _no_newline(value, "tag value").translate(_KEY)
            for key, value in sorted(tags.items())) + " "

    def tail(self, timestamp: int) -> str:
        return " %d\n" % timestamp

    def render(self, names: Sequence[Optional[str]], keys: Sequence[Optional[str]],
               values: Sequence[Any], tail: str, out: List[Any], heads_ok: bool,
               width: int) -> int:
        invalid = 0
        append = out.append
        for start in range(0, len(values), width):
            fields = []
            for name, value in zip(names[start:start + width], values[start:start + width]):
                if value is SKIP:
                    continue
                text = format_value(value)
                if text is None or name is None:
                    invalid += 1
                else:
                    fields.append(name + text)
            key = keys[start]
            if key is None:
                invalid += len(fields)
            elif fields:
                append(key + ",".join(fields) + tail)
        return invalid

    def body(self, units: Sequence[str], compression: Optional[str]) -> bytes:
        stream = compressor(compression)
        stream.compress("".join(units).encode("utf-8"))
        return bytes(stream.finish())
