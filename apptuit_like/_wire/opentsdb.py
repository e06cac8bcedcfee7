"""The OpenTSDB wire: JSON puts to ``{endpoint}/api/put?details`` (apptuit-py's).

A point is the text of one JSON object; its head is cached in two parts, the
metric name (shared by every series of a metric) and the tags, so a cycle joins
four strings per point. The rendering itself lives in ``encoding.py``, which the
client's direct sends use too.

>>> wire = OpenTSDBWire()
>>> names = wire.field_parts("lat", ("count",), lambda name: name.replace(".", "_"))
>>> out = []
>>> wire.render(names, [wire.key_part("lat", ("count",), {"a": "b"}, str)], [3],
...             wire.tail(1700000000000), out, True, 1)
0
>>> out
['{"metric":"lat_count","tags":{"a":"b"},"value":3,"timestamp":1700000000000}']
"""
from itertools import repeat
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .._encoding import encode_body, format_value, name_part, number_texts, tags_json, \
    tags_part, timestamp_tail
from . import SKIP, Wire

_PLAIN = frozenset([int, float])


class OpenTSDBWire(Wire):
    name = "opentsdb"
    content_type = "application/json"
    millis = False   # seconds or milliseconds, by the endpoint's timestamp_precision
    compressions = ("gzip", "deflate", None)
    frame = ("[", ",", "]")   # the body is a JSON array of the points

    def url(self, endpoint: str) -> str:
        return endpoint + "/api/put?details"

    def field_parts(self, name: str, fields: Sequence[str], sanitize: Any) -> Tuple[Any, ...]:
        return tuple(name_part(sanitize(name + "." + f if f else name)) for f in fields)

    def key_part(self, name: str, fields: Sequence[str], tags: Dict[str, str],
                 sanitize: Any) -> str:
        return tags_part(tags_json(tags))

    def shared_field_parts(self, name: str, fields: Sequence[str], sanitize: Any,
                           shared: Dict[str, str]) -> Optional[Tuple[Any, ...]]:
        if not shared:
            return None
        # '{"metric":"m.f","tags":{"host":"a"': the key's own tags follow
        tags = ',"tags":' + tags_json(shared)[:-1]
        return tuple(part + tags for part in self.field_parts(name, fields, sanitize))

    def own_key_part(self, tags: Dict[str, str]) -> str:
        own = tags_json(tags)[1:-1]
        return ("," + own if own else "") + '},"value":'

    def tail(self, timestamp: int) -> str:
        return timestamp_tail(str(timestamp))

    def render(self, names: Sequence[Optional[str]], keys: Sequence[Optional[str]],
               values: Sequence[Any], tail: str, out: List[Any], heads_ok: bool,
               width: int) -> int:
        if heads_ok and _PLAIN.issuperset(map(type, values)):
            total = sum(values)
            if total - total == 0:   # every value finite: render them all at C speed
                out.extend(map("".join, zip(names, keys,  # type: ignore[arg-type]
                                            number_texts(values), repeat(tail))))
                return 0
        invalid = 0
        append = out.append
        for name, tags_text, value in zip(names, keys, values):
            if value is SKIP:
                continue
            text = format_value(value)
            if text is None or tags_text is None or name is None:
                invalid += 1
            else:
                append(name + tags_text + text + tail)
        return invalid

    def body(self, units: Sequence[str], compression: Optional[str]) -> bytes:
        return encode_body(units, compression)
