"""Points from text: OpenTSDB telnet lines, JSON lines and JSON arrays.

``read_records`` turns lines into ``(line number, metric, tags, timestamp, value,
source)`` records, and each bad line into an :class:`InputError` in the same stream, so
the caller decides whether to skip it or stop. Telnet records keep their tags
as the raw ``k=v ...`` text, which is a cheap cache key; ``parse_tags`` makes
the dict once per distinct series.

>>> for record in read_records(["put cpu 1700000000 0.5 host=a core=0",
...                             '{"metric": "cpu", "timestamp": 1700000000123,'
...                             ' "value": 2, "tags": {"host": "b"}}',
...                             "cpu 1700000000 0.5 host=a"]):
...     print(record)
(1, 'cpu', 'host=a core=0', 1700000000, 0.5, None)
(2, 'cpu', {'host': 'b'}, 1700000000123, 2, None)
line 3: expected 'put <metric> <timestamp> <value> <tag>=<value> ...', got 'cpu 1700000000 0.5 host=a'
"""
import json
import re
from typing import Any, Dict, Iterable, Iterator, Optional, Tuple, Union

from ..errors import ApptuitValueError

Record = Tuple[int, str, Union[str, Dict[str, Any]], float, Any, Optional[str]]
_QUOTE = 120


class InputError(ApptuitValueError):
    """One line (or array item) that is not a point; ``line`` is its number."""

    def __init__(self, line: int, source: Optional[str], message: str) -> None:
        super().__init__("%sline %d: %s" % (source + ", " if source else "", line, message))
        self.line = line
        self.source = source
_NOT_UTF8 = re.compile("[\udc80-\udcff]")   # bytes that surrogateescape kept


def read_records(lines: Iterable[str], source: Optional[str] = None
                 ) -> Iterator[Union[Record, InputError]]:
    """Records of every point in ``lines``, with an InputError for each bad one.

    ``source`` (a file name) is carried in every record and error message.

    A text whose first non-blank character is ``[`` is one JSON array (items are
    numbered from 1 instead of lines); otherwise each line is a telnet ``put``
    line or a JSON object. Blank lines and ``#`` comments are skipped. Text read
    with ``errors="surrogateescape"`` keeps bytes that are not UTF-8 as lone
    surrogates: such a line is reported as bad, and the others go on.
    """
    lines = iter(lines)
    first = True
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text[0] == "#":
            continue
        if _NOT_UTF8.search(text):
            yield InputError(number, source, "the line is not valid UTF-8")
            first = False
            continue
        if first and text[0] == "[":
            yield from _json_array(line + "".join(lines), number, source)
            return
        first = False
        yield (_json_line(number, text, source) if text[0] == "{"
               else _telnet(number, text, source))


def parse_tags(text: str, line: int = 0, source: Optional[str] = None) -> Dict[str, str]:
    """``"k=v k2=v2"`` as a dict; a malformed pair raises InputError quoting it.

    >>> parse_tags("host=a  zone=eu=1")
    {'host': 'a', 'zone': 'eu=1'}
    """
    tags = {}
    for pair in text.split():
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise InputError(line, source, "tag %r is not <key>=<value>" % pair)
        tags[key] = value
    return tags


def _telnet(number: int, text: str, source: Optional[str]) -> Union[Record, InputError]:
    parts = text.split(None, 4)
    if len(parts) < 4 or parts[0] != "put":
        return InputError(number, source, "expected 'put <metric> <timestamp> <value> "
                          "<tag>=<value> ...', got %r" % _quote(text))
    try:
        timestamp = _timestamp(parts[2])
    except ValueError:
        return InputError(number, source, "timestamp %r is not a number" % parts[2])
    try:
        value = float(parts[3])
    except ValueError:
        return InputError(number, source, "value %r of %s is not a number"
                          % (parts[3], parts[1]))
    return number, parts[1], parts[4] if len(parts) == 5 else "", timestamp, value, source


def _json_line(number: int, text: str, source: Optional[str]) -> Union[Record, InputError]:
    try:
        item = json.loads(text)
    except ValueError as err:
        return InputError(number, source, "not valid JSON (%s): %r" % (err, _quote(text)))
    return _json_record(number, item, source)


def _json_array(text: str, number: int, source: Optional[str]
                ) -> Iterator[Union[Record, InputError]]:
    try:
        items = json.loads(text)
    except ValueError as err:
        yield InputError(number, source, "the JSON array does not parse: %s" % err)
        return
    if not isinstance(items, list):
        yield InputError(number, source, "expected a JSON array of points")
        return
    for index, item in enumerate(items, 1):
        yield _json_record(index, item, source)


def _json_record(number: int, item: Any, source: Optional[str]) -> Union[Record, InputError]:
    if not isinstance(item, dict):
        return InputError(number, source, "expected a JSON object with metric, timestamp, "
                          "value and tags, got %r" % _quote(json.dumps(item)))
    metric, tags = item.get("metric"), item.get("tags") or {}
    if not isinstance(metric, str) or not metric:
        return InputError(number, source, "missing or empty \"metric\" in %s"
                          % _quote(json.dumps(item)))
    if not isinstance(tags, dict):
        return InputError(number, source, "\"tags\" of %s must be an object" % metric)
    timestamp, value = item.get("timestamp"), item.get("value")
    if timestamp is None:
        return InputError(number, source, "no \"timestamp\" for %s" % metric)
    try:
        timestamp = _timestamp(timestamp)
    except (TypeError, ValueError):
        return InputError(number, source, "timestamp %r of %s is not a number"
                          % (timestamp, metric))
    if isinstance(value, str):   # OpenTSDB accepts "1.5" as a value
        try:
            value = float(value)
        except ValueError:
            pass
    return number, metric, tags, timestamp, value, source


def _timestamp(raw: Any) -> float:
    """Unix seconds or milliseconds (telnet and JSON allow both), as int when whole;
    the encoder tells them apart."""
    if isinstance(raw, bool):
        raise TypeError("a boolean is not a timestamp")
    if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()):
        return int(raw)
    return float(raw)


def _quote(text: str) -> str:
    return text if len(text) <= _QUOTE else text[:_QUOTE] + "..."
