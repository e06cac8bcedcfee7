"""The text of a group member's state file, written and read back every cycle.

One line of JSON holds every value, by part (the application's registry and
the reporter's own) and kind; the registry keys follow, one a line. Keys as
lines are split at C speed, where inside JSON the quotes of encoded tags would
be escapes to parse, three times slower. A key with a line break in it sends
all keys into the JSON line instead.

Every member writes its file and the sender reads them all each cycle: the line
is written and parsed by orjson (json only for the rare state holding a NaN or an
infinity, an int past 64 bits or a lone surrogate), and each kind comes back as a
:class:`Section`, its keys and values as the two lists they were read into. Gauge
values are finite or None (``snapshot`` sees to it).

>>> text = encode({"format": FORMAT}, {"rows": [], "user": {"counter": {"a": 1}},
...                                    "meta": {}})
>>> decode(text)["state"]["user"]["counter"]
Section({'a': 1})
"""
import json
import math
from itertools import chain
from operator import itemgetter
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional

import orjson

from ._adapter import KIND_ATTRS

__all__ = ["FORMAT", "Section", "encode", "decode"]

FORMAT = "apptuit_like.multiprocess/2"   # /2: histograms and timers carry bucket counts
PARTS = ("user", "meta")   # the application's registry and the reporter's own
# the numbers of a histogram's and a timer's entries: moments, and a timer's rates
_NUMBERS = (("histogram", itemgetter(0, 1, 2, 3, 4)),
            ("timer", itemgetter(0, 1, 2, 3, 4, 6, 7, 8, 9)))


class Section(Mapping[str, Any]):
    """One kind's entries of a state read back: a read-only mapping over the
    keys and values lists as they were read, building no dict unless a key is
    looked up. Workers of one service hold the same keys in the same order, and
    the merge then walks the lists of every member side by side."""

    __slots__ = ("_keys", "_values", "_dict")

    def __init__(self, keys: List[str], values: List[Any]) -> None:
        self._keys = keys
        self._values = values
        self._dict: Optional[Dict[str, Any]] = None

    def __getitem__(self, key: str) -> Any:
        if self._dict is None:
            self._dict = dict(zip(self._keys, self._values))
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys if self._dict is None else self._dict)

    def __len__(self) -> int:
        return len(self._keys) if self._dict is None else len(self._dict)

    def values(self) -> Any:   # the list itself: check_state and the merge read it whole
        return self._values if self._dict is None else self._dict.values()

    def __repr__(self) -> str:
        return "Section(%r)" % dict(self.items())


def encode(header: Dict[str, Any], state: Dict[str, Any]) -> str:
    """A state file's text: ``header`` with the ``state`` a snapshot gives (see the
    module's docstring)."""
    keys: List[str] = []
    values: Dict[str, Dict[str, List[Any]]] = {}
    for part in PARTS:
        values[part] = {}
        for kind in KIND_ATTRS:
            entries = state[part].get(kind, {})
            keys += entries
            values[part][kind] = list(entries.values())
    inline = any("\n" in key or "\r" in key for key in keys)
    line = _json_line(dict(header, rows=state["rows"], values=values,
                           keys=keys if inline else len(keys)))
    return line if inline else line + "\n" + "\n".join(keys)


def _json_line(record: Dict[str, Any]) -> str:
    """``record`` as JSON: by orjson, a fraction of json's CPU, unless it holds
    what orjson cannot write or read back as json does (NaN and infinities, which
    it would turn into null; ints past 64 bits, read back as floats; lone
    surrogates). Those lines say ``"exact"``, and are read back by json."""
    if _finite(record):
        try:
            return orjson.dumps(record).decode("utf-8")
        except TypeError:
            pass
    return json.dumps(dict(record, exact=True), separators=(",", ":"))


def _finite(record: Dict[str, Any]) -> bool:
    """No NaN or infinity among the numbers of a state's values and rows (a sum
    past the doubles' range counts as one: json writes it then)."""
    numbers: List[Iterable[Any]] = [[row[2] for row in record["rows"]]]
    for part in record["values"].values():
        numbers += [part["counter"], chain.from_iterable(part["meter"])]
        numbers += [chain.from_iterable(map(pick, part[kind])) for kind, pick in _NUMBERS]
    try:
        total = math.fsum(chain.from_iterable(numbers))
    except (OverflowError, ValueError, TypeError):   # TypeError: a row's value not a number
        return False
    return total - total == 0


def decode(text: str) -> Dict[str, Any]:
    """The header of a state file with its ``state``; ValueError when malformed."""
    line, _, rest = text.partition("\n")
    try:   # orjson: a fraction of the CPU json takes for a state line
        record = orjson.loads(line)
    except orjson.JSONDecodeError:   # NaN, Infinity: a line json wrote
        record = None
    if not isinstance(record, dict) or record.get("exact"):
        record = json.loads(line)
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError("not a state file of this version (%s)" % FORMAT)
    record.pop("exact", None)
    keys = record.pop("keys")
    if isinstance(keys, int):
        keys = rest.split("\n") if keys else []
    if not isinstance(keys, list) or not set(map(type, keys)) <= {str}:
        raise ValueError("bad keys")
    values = record.pop("values")
    columns = [values[part][kind] for part in PARTS for kind in KIND_ATTRS]
    if not all(isinstance(column, list) for column in columns):
        raise ValueError("bad values")
    if sum(map(len, columns)) != len(keys):
        raise ValueError("%d keys for %d values" % (len(keys), sum(map(len, columns))))
    state: Dict[str, Any] = {"rows": record.pop("rows")}
    start = 0
    for part in PARTS:
        state[part] = {}
        for kind in KIND_ATTRS:
            column = values[part][kind]
            state[part][kind] = Section(keys[start:start + len(column)], column)
            start += len(column)
    record["state"] = state
    return record
