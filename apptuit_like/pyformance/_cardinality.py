"""The cardinality guard: at most ``cap`` series per metric name; the rest fold
into one series of that metric tagged ``overflow="true"``.

A tag fed from user input (a user id, a raw URL) turns one metric into millions of
series, which slow or break the TSDB. Past the cap (2,000 by default, as
OpenTelemetry specifies), the keys of a metric name are not sent one by one:
their counts and sums are added into the overflow series, so ``sum(metric)``
stays the exact total. Which keys are kept is stable: the first ``cap`` a
registry holds, in the order they were created, stay the ones sent.

>>> guard = Guard(2)
>>> keys = ['m{"u": "1"}', 'm{"u": "2"}', 'm{"u": "3"}', 'm{"u": "4"}', 'n']
>>> kept, _, folded = guard.split("counter", keys, list(range(5)))
>>> kept, folded
(['m{"u": "1"}', 'm{"u": "2"}', 'n'], {'m': (['m{"u": "3"}', 'm{"u": "4"}'], [2, 3])})
>>> fold(("count",), [(3,), (4,)])
(7,)
"""
import collections
import logging
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from .._wire import SKIP

log = logging.getLogger("apptuit_like")

OVERFLOW_TAGS = {"overflow": "true"}
DEFAULT_MAX_SERIES_PER_METRIC = 2000
_SUMMED = frozenset(["count", "sum", "15m_rate", "5m_rate", "1m_rate", "mean_rate"])
Folded = Dict[str, Tuple[List[str], List[Any]]]   # metric name: (keys, metrics) folded
Split = Tuple[List[Any], List[Any], Folded]


class Guard:
    """Splits a registry dict's keys into those sent as they are and, per metric
    name, those folded; remembers the split while the keys stay the same."""

    def __init__(self, cap: Optional[int]) -> None:
        if cap is not None and (not isinstance(cap, int) or cap < 1):
            raise ValueError("max_series_per_metric must be a positive integer or None, "
                             "got %r" % (cap,))
        self.cap = cap
        self.folded: Dict[Tuple[str, str], int] = {}   # (kind, metric name): keys folded
        self._last: Dict[str, Tuple[List[Any], List[Any], Split]] = {}
        # per metric name that went past the cap (or a group chose for), the keys
        # sent as they are: once admitted, always (a merged view of a process group
        # may list keys in another order each cycle); names under it hold no set
        self._admitted: Dict[str, Set[str]] = {}
        self._warned: Set[str] = set()

    def split(self, kind: str, keys: List[Any], metrics: List[Any]) -> Split:
        """(keys kept, their metrics, {metric name: [(key, metric), ...] folded})."""
        if self.cap is None:
            return keys, metrics, {}
        last = self._last.get(kind)
        if last is not None and last[0] == keys and last[1] == metrics:
            return last[2]
        self._admit_crossing(keys, last[2][0] if last is not None else [])
        folded: Folded = {}
        result: Split = (keys, metrics, folded)
        if self._admitted:
            result = self._fold(keys, metrics, folded)
        self._last[kind] = (keys, metrics, result)
        self._note(kind, folded)
        return result

    def _admit_crossing(self, keys: List[Any], sent: List[Any]) -> None:
        """Choose the admitted keys of each metric name past the cap for the first
        time: those ``sent`` at the last cycle, then the first new ones in order.
        A name under the cap needs no choice (all its keys are sent), and holds no
        set of keys."""
        admitted, cap = self._admitted, self.cap
        assert cap is not None
        counts = collections.Counter(_name(key) for key in keys)
        for name, count in counts.items():
            if count > cap and name not in admitted:
                admitted[name] = {key for key in sent if _name(key) == name}

    def _fold(self, keys: List[Any], metrics: List[Any], folded: Folded) -> Split:
        """Keys of admitted names past their choice, folded into ``folded``."""
        admitted, cap = self._admitted, self.cap
        assert cap is not None
        kept_keys: List[Any] = []
        kept_metrics: List[Any] = []
        for key, metric in zip(keys, metrics):
            name = _name(key)
            chosen = admitted.get(name)
            if chosen is not None and key not in chosen:
                if len(chosen) >= cap:
                    entry = folded.get(name)
                    if entry is None:
                        entry = folded[name] = ([], [])
                    entry[0].append(key)
                    entry[1].append(metric)
                    continue
                chosen.add(key)
            kept_keys.append(key)
            kept_metrics.append(metric)
        return (kept_keys, kept_metrics, folded) if folded else (keys, metrics, folded)

    def adopt(self, admitted: Any) -> None:
        """Take a group's choice of admitted keys per metric name (as ``shared``
        gave it), so that every process sends the same keys."""
        if self.cap is None or not isinstance(admitted, dict):
            return
        for name, keys in admitted.items():
            if isinstance(name, str) and isinstance(keys, list) and len(keys) <= self.cap:
                if self._admitted.get(name) != set(keys):
                    self._admitted[name] = set(keys)
                    self._last.clear()

    def shared(self) -> Dict[str, List[str]]:
        """Every metric name's admitted keys (for a name under the cap, the keys
        sent at the last split), for a process group to keep: the group's earlier
        choice then holds whichever process sends next, even when a metric went
        from a few keys to past the cap between two sends."""
        if self.cap is None:
            return {}
        choice: Dict[str, Set[str]] = {}
        for _, _, (kept, _, _) in self._last.values():
            for key in kept:
                choice.setdefault(_name(key), set()).add(key)
        choice.update(self._admitted)
        return {name: sorted(keys) for name, keys in choice.items()}

    def _note(self, kind: str, folded: Folded) -> None:
        for key in [k for k in self.folded if k[0] == kind]:
            del self.folded[key]
        for name, (keys, _) in folded.items():
            self.folded[(kind, name)] = len(keys)
            if name not in self._warned:
                self._warned.add(name)
                log.warning("metric %r has more than %d series: the others are sent as one "
                            "series tagged overflow=\"true\" holding their total "
                            "(max_series_per_metric; warned once)", name, self.cap)


def _name(key: str) -> str:
    """The metric name of a registry key."""
    return key.partition("{")[0]


def fold(fields: Sequence[str], values: Iterable[Sequence[Any]]) -> Optional[Tuple[Any, ...]]:
    """One metric's field values from the field values of many, read one by one:
    counts, sums and rates added, min and max combined, the average recomputed;
    spread and percentiles cannot be combined and are left out. None for gauges,
    which are dropped past the cap."""
    if tuple(fields) == ("value",):
        return None
    index = {field: i for i, field in enumerate(fields)}
    summed = [i for field, i in index.items() if field in _SUMMED]
    totals: Dict[int, float] = dict.fromkeys(summed, 0)
    high = low = SKIP
    weighted = 0.0   # a histogram's sum, which it does not report: avg times count
    for row in values:
        for i in summed:
            value = row[i]
            if value is not SKIP and value is not None:
                totals[i] += value
        if "max" in index:
            high = _combine(max, high, row[index["max"]])
            low = _combine(min, low, row[index["min"]])
        if "avg" in index and "sum" not in index:
            avg, count = row[index["avg"]], row[index["count"]]
            if avg is not SKIP and avg is not None and count:
                weighted += avg * count
    out: List[Any] = [SKIP] * len(fields)
    for i, value in totals.items():
        out[i] = value
    if "max" in index:
        out[index["max"]], out[index["min"]] = high, low
    if "avg" in index:
        count = totals[index["count"]]
        whole = totals[index["sum"]] if "sum" in index else weighted
        out[index["avg"]] = whole / count if count else 0
    return tuple(out)


def _combine(pick: Any, current: Any, value: Any) -> Any:
    if value is SKIP or value is None:
        return current
    return value if current is SKIP else pick(current, value)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any, name: str = "idle_series_timeout") -> Optional[float]:
    """Seconds from a number or a string such as ``"90s"``, ``"30m"``, ``"1h"``;
    None stays None (off).

    >>> parse_duration("1h"), parse_duration(90), parse_duration(None)
    (3600.0, 90.0, None)
    """
    if value is None:
        return None
    try:
        if isinstance(value, str):
            text = value.strip().lower()
            seconds = float(text[:-1]) * _UNITS[text[-1]] if text[-1:] in _UNITS \
                else float(text)
        elif isinstance(value, bool):
            raise ValueError
        else:
            seconds = float(value)
    except (ValueError, KeyError, TypeError):
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ValueError("%s must be positive seconds or a duration such as '1h', got %r"
                         % (name, value))
    return seconds


def _fingerprint(metric: Any) -> Any:
    """What changes when anything is recorded: a count, or a gauge's value."""
    values = getattr(metric, "values", None)   # a merged view of a process group
    if values is not None and not callable(values):
        return values
    for getter in ("get_count", "get_value"):
        method = getattr(metric, getter, None)
        if method is not None:
            return method()
    return object()   # unknown: never equal, never idle


class IdleFilter:
    """Leaves out the keys whose metric has not changed for ``timeout`` seconds; a
    change brings a key back at the next cycle."""

    def __init__(self, timeout: Optional[float], clock: Any = time.monotonic) -> None:
        self.timeout = timeout
        self._clock = clock
        # per kind, key: (fingerprint, when it last changed)
        self._seen: Dict[str, Dict[str, Tuple[Any, float]]] = {}
        self.idle: Dict[str, int] = {}   # per kind: keys left out at the last cycle

    def active(self, kind: str, keys: List[Any], metrics: List[Any]
               ) -> Tuple[List[Any], List[Any]]:
        """The keys of ``kind`` (and their metrics) to send this cycle."""
        if self.timeout is None:
            return keys, metrics
        now, timeout = self._clock(), self.timeout
        seen = self._seen.setdefault(kind, {})
        kept_keys: List[Any] = []
        kept_metrics: List[Any] = []
        for key, metric in zip(keys, metrics):
            try:
                mark = _fingerprint(metric)
            except Exception:   # a callback that raises: send it, and let it be warned
                mark = object()
            state = seen.get(key)
            if state is None or state[0] != mark:
                seen[key] = (mark, now)
            elif now - state[1] >= timeout:
                continue
            kept_keys.append(key)
            kept_metrics.append(metric)
        self.idle[kind] = len(keys) - len(kept_keys)
        if len(seen) > 2 * len(keys) + 1024:   # forget keys the registry no longer has
            present = set(keys)
            self._seen[kind] = {k: v for k, v in seen.items() if k in present}
        return kept_keys, kept_metrics
