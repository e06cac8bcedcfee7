"""One process's registry as plain data, and many processes' data merged back.

``snapshot`` turns a pyformance registry into JSON-able lists; ``Merger``
combines the snapshots of a group of processes into a registry-like view with
the same five dicts as a ``MetricsRegistry``, so the ordinary collector renders
it with the series names a single process would send. The view's metric
objects live across cycles, so the collector's cached heads stay valid.

Merge rules: counters and meter counts are summed; rates are summed over live
processes; histograms and timers pool count, sum, min, max and the sum of
squared deviations exactly, and take percentiles from the union of samples;
gauges follow a gauge mode (see ``GAUGE_MODES``).
"""
import base64
import binascii
import logging
import math
import threading
from array import array
from itertools import chain
from operator import itemgetter
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from ..timeseries import decode_metric, encode_metric
from .._wire import SKIP
from . import _buckets
from ._adapter import KIND_ATTRS, metrics_of
from ._readers import (FieldValues, MergedCount, mean_rate, quantiles, read_buckets,
                       sorted_sample, warn_failed_read)

log = logging.getLogger("apptuit_like")

GAUGE_MODES = ("per_process", "sum", "max", "min", "latest")
# (count, sum, min, max, sum of squared deviations from the mean)
Moments = Tuple[float, float, float, float, float]
_EMPTY: Moments = (0, 0.0, math.inf, -math.inf, 0.0)
# an empty histogram's moments in a state: min and max unused (a count of 0 is
# skipped), and finite, so the line holds no Infinity for orjson to refuse
_NO_MOMENTS = [0, 0.0, 0.0, 0.0, 0.0]
_DOUBLE = array("d").itemsize
_FAILING_GAUGES: Set[str] = set()   # keys of this process's gauges that raised, warned once
_COMBINE: Dict[str, Callable[[List[float]], float]] = {"sum": sum, "max": max, "min": min}


def _rates(meter: Any) -> List[float]:
    return [meter.m15rate.get_rate(), meter.m5rate.get_rate(), meter.m1rate.get_rate(),
            mean_rate(meter)]


def _moments(hist: Any) -> List[float]:
    if hasattr(hist, "flush"):   # the drop-in Histogram folds pending values on read
        hist.flush()
    count = hist.counter
    if not count:
        return list(_NO_MOMENTS)
    return [count, hist.sum, hist.min, hist.max, hist.var[1]]


def _gauge_value(key: str, gauge: Any) -> Optional[float]:
    try:
        value = gauge.get_value()
    except Exception as err:   # a user callback: anything may come out of it
        warn_failed_read(_FAILING_GAUGES, key, err)
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def snapshot(registry: Any, buckets: bool = True) -> Dict[str, Dict[str, Any]]:
    """A registry's state as JSON-able data, by kind and key. Histograms and timers
    carry their bucket counts when ``buckets`` (bucket series are sent), else an
    empty list: no process of the group counts them for nothing.

    >>> from pyformance import MetricsRegistry
    >>> registry = MetricsRegistry()
    >>> registry.counter("orders").inc(3)
    >>> snapshot(registry)["counter"]
    {'orders': 3}
    """
    out: Dict[str, Dict[str, Any]] = {}
    def items(kind: str) -> List[Tuple[str, Any]]:
        return list(metrics_of(registry, kind).items())
    flat = _flat_buckets if buckets else _no_buckets
    out["counter"] = {k: m.get_count() for k, m in items("counter")}
    out["meter"] = {k: [m.get_count()] + _rates(m) for k, m in items("meter")}
    out["histogram"] = {k: _moments(m) + [_packed(sorted_sample(m)), flat(m)]
                        for k, m in items("histogram")}
    out["timer"] = {k: _moments(m.hist) + [_packed(sorted_sample(m.hist))] + _rates(m.meter)
                    + [flat(m)] for k, m in items("timer")}
    out["gauge"] = {k: _gauge_value(k, m) for k, m in items("gauge")}
    return out


def _flat_buckets(metric: Any) -> List[int]:
    """A histogram's bucket counts as [index, count, index, count, ...]."""
    read = read_buckets(metric)
    return list(chain.from_iterable(read[0].items())) if read is not None else []


def _no_buckets(metric: Any) -> List[int]:
    return []


def _packed(samples: Iterable[float]) -> str:
    """Samples as base64 of native doubles: exact, and decoded at C speed (a
    reservoir holds up to 1028 of them per metric)."""
    return base64.b64encode(array("d", samples).tobytes()).decode("ascii")


def unpacked(text: str) -> bytes:
    """The native doubles :func:`_packed` encoded, or ValueError when ``text`` is
    not such."""
    try:
        raw = binascii.a2b_base64(text)
    except (binascii.Error, TypeError) as err:
        raise ValueError("bad samples: %s" % err) from None
    if len(raw) % _DOUBLE:
        raise ValueError("bad samples: %d bytes" % len(raw))
    return raw


def reset(registry: Any) -> None:
    """Zero every counter, meter, histogram and timer of ``registry`` in place, for
    a forked child whose copies still hold the parent's counts. Application code
    keeps its references to the metric objects. Locks are renewed first: another
    parent thread may have held one at the fork, and would never release it here.
    """
    for attr in ("_counters", "_meters", "_histograms", "_timers"):
        for metric in list(getattr(registry, attr, {}).values()):
            for part in (metric, getattr(metric, "hist", None), getattr(metric, "meter", None)):
                if part is not None and hasattr(part, "lock"):
                    part.lock = threading.Lock()
            metric.clear()


def combine(parts: Iterable[Sequence[float]]) -> Moments:
    """Pool (count, sum, min, max, M2) moments exactly (Chan et al.'s update).

    >>> combine([(2, 4.0, 1.0, 3.0, 2.0), (1, 5.0, 5.0, 5.0, 0.0)])
    (3, 9.0, 1.0, 5.0, 8.0)
    """
    n, total, low, high, m2 = _EMPTY
    for count, part_sum, part_low, part_high, part_m2 in parts:
        if not count:
            continue
        if n:
            delta = part_sum / count - total / n
            m2 += part_m2 + delta * delta * n * count / (n + count)
        else:
            m2 = part_m2
        n, total = n + count, total + part_sum
        low, high = min(low, part_low), max(high, part_high)
    return n, total, low, high, m2


def _summary(moments: Moments, samples: List[float]) -> Tuple[Any, ...]:
    """(avg, sum, count, max, min, std_dev, p50, p75, p95, p99, p999) from pooled
    moments and sorted samples, as the collector reads one process's histogram."""
    n, total, low, high, m2 = moments
    qs = quantiles(samples)
    if not n:
        return (0, 0.0, n, SKIP, SKIP, 0) + qs
    variance = m2 / (n - 1) if n > 1 else 0
    std = math.sqrt(variance) if variance > 0 else 0.0
    return (total / n, total, n, high, low, std) + qs


class Merger:
    """Merges process snapshots into a view that the collector renders.

    ``gauge_mode`` is the default for every gauge, ``gauge_modes`` overrides it
    per metric name (the name without tags). ``per_process`` sends one series
    per process with a ``worker_id`` tag; the others combine the live processes'
    values into the single-process series. Without ``buckets`` (no bucket series
    sent) the view's histograms and timers carry no bucket counts.
    """

    def __init__(self, gauge_mode: str = "per_process",
                 gauge_modes: Optional[Dict[str, str]] = None, buckets: bool = True) -> None:
        for mode in [gauge_mode] + list((gauge_modes or {}).values()):
            if mode not in GAUGE_MODES:
                raise ValueError("unknown gauge mode %r; expected one of %s"
                                 % (mode, ", ".join(GAUGE_MODES)))
        self.gauge_mode = gauge_mode
        self.gauge_modes = dict(gauge_modes or {})
        self.buckets = buckets
        for attr in KIND_ATTRS.values():
            setattr(self, attr, {})

    def merge(self, live: Sequence[Tuple[str, float, Dict[str, Any]]],
              archive: Dict[str, Dict[str, Any]]) -> "Merger":
        """Rebuild the view from live snapshots ``(worker id, written at, state)``
        and the archive of exited processes' cumulative parts; returns self."""
        self._counters = self._build("counter", self._merge_counters(live, archive))
        self._meters = self._build("meter", self._merge_meters(live, archive))
        self._histograms = self._build("histogram", self._merge_dists("histogram", live,
                                                                       archive))
        self._timers = self._build("timer", self._merge_dists("timer", live, archive))
        self._gauges = self._build("gauge", self._merge_gauges(live))
        return self

    def _build(self, kind: str, values: Dict[str, Any]) -> Dict[str, Any]:
        """The view of one kind: ``values`` holds a count per counter key and a
        field tuple per other key; objects of known keys are updated in place."""
        keys = list(values)
        view: Dict[str, Any] = getattr(self, KIND_ATTRS[kind])
        if keys != list(view):   # keys came or went: a new view, unchanged ones reused
            known = view
            view = {key: known.get(key) or (MergedCount() if kind == "counter"
                                            else FieldValues())
                    for key in keys}
        if kind == "counter":
            for obj, count in zip(view.values(), values.values()):
                obj.counter = count
        elif kind in ("histogram", "timer"):
            for obj, (fields, buckets) in zip(view.values(), values.values()):
                obj.values, obj.buckets = fields, buckets
        else:
            for obj, fields in zip(view.values(), values.values()):
                obj.values = fields
        return view

    @staticmethod
    def _merge_counters(live: Sequence[Tuple[str, float, Dict[str, Any]]],
                        archive: Dict[str, Dict[str, Any]]) -> Dict[str, float]:
        keys, rows = _by_key([state["counter"] for _, _, state in live])
        totals: Dict[str, float] = dict(zip(keys, map(sum, rows)))
        for key, count in archive.get("counter", {}).items():
            totals[key] = totals.get(key, 0) + count
        return totals

    @staticmethod
    def _merge_meters(live: Sequence[Tuple[str, float, Dict[str, Any]]],
                      archive: Dict[str, Dict[str, Any]]) -> Dict[str, Tuple[Any, ...]]:
        keys, rows = _by_key([state["meter"] for _, _, state in live])
        totals = {key: tuple(map(sum, zip(*values))) for key, values in zip(keys, rows)}
        for key, count in archive.get("meter", {}).items():   # counts only: rates left
            count_now, *rates = totals.get(key, (0, 0.0, 0.0, 0.0, 0.0))
            totals[key] = (count_now + count, *rates)
        return totals

    def _merge_dists(self, kind: str, live: Sequence[Tuple[str, float, Dict[str, Any]]],
                     archive: Dict[str, Dict[str, Any]]) -> Dict[str, Tuple[Any, ...]]:
        """Per key: (field values, (bucket counts, sum) or None without buckets) of
        every process together."""
        kept = archive.get(kind, {})
        kept_buckets = archive.get(kind + "_buckets", {}) if self.buckets else {}
        out = {}
        keys, rows = _by_key([state[kind] for _, _, state in live])
        for key, values in zip(keys, rows):
            parts = [value[:5] for value in values]
            if key in kept:
                parts.append(kept[key])
            merged = array("d")
            merged.frombytes(b"".join([_raw(value[5]) for value in values]))
            rates = tuple(map(sum, zip(*[value[6:-1] for value in values])))
            moments = combine(parts)
            buckets = None
            if self.buckets:
                buckets = (_buckets.merge_flat([value[-1] for value in values]
                                               + [kept_buckets.get(key, [])]), moments[1])
            out[key] = (_fields(kind, _summary(moments, sorted(merged)), rates), buckets)
        for key, moments in kept.items():   # exited processes' keys no live one holds
            if key not in out:
                out[key] = (_fields(kind, _summary(combine([moments]), []), (0.0,) * 4),
                            (_buckets.merge_flat([kept_buckets.get(key, [])]), moments[1])
                            if self.buckets else None)
        return out

    def _merge_gauges(self, live: Sequence[Tuple[str, float, Dict[str, Any]]]
                      ) -> Dict[str, Tuple[Any, ...]]:
        seen: Dict[str, List[Tuple[float, str, Any]]] = {}
        for worker, written, state in live:
            for key, value in state["gauge"].items():
                seen.setdefault(key, []).append((written, worker, value))
        out: Dict[str, Tuple[Any, ...]] = {}
        for key, values in seen.items():
            try:
                name, tags = decode_metric(key)
            except ValueError:
                continue   # the collector would skip it too; logged where it was made
            mode = self.gauge_modes.get(name, self.gauge_mode)
            if mode == "per_process":
                for _, worker, value in values:
                    out[encode_metric(name, dict(tags, worker_id=worker))] = (value,)
                continue
            numbers = [v for _, _, v in values if v is not None]
            if not numbers:
                out[key] = (None,)
            elif mode == "latest":
                out[key] = (max((w, v) for w, _, v in values if v is not None)[1],)
            else:
                out[key] = (_COMBINE[mode](numbers),)
        return out


def _by_key(sections: List[Dict[str, Any]]
            ) -> Tuple[List[str], Iterable[Sequence[Any]]]:
    """The keys of the non-empty sections of one kind and, for each key in that
    order, every process's value of it."""
    sections = [section for section in sections if section]
    keys = list(sections[0]) if sections else []
    if all(list(other) == keys for other in sections[1:]):
        # the workers of one service hold the same keys in the same order: C speed
        return keys, zip(*[section.values() for section in sections])
    grouped: Dict[str, List[Any]] = {}
    for section in sections:
        for key, value in section.items():
            grouped.setdefault(key, []).append(value)
    return list(grouped), grouped.values()


def _fields(kind: str, summary: Tuple[Any, ...], rates: Tuple[float, ...]
            ) -> Tuple[Any, ...]:
    """A histogram's or a timer's field values, in the collector's FIELDS order."""
    avg, total, n, high, low, std, *qs = summary
    if kind == "histogram":
        return (avg, n, high, low, std) + tuple(qs[1:])
    return (avg, total, n, high, low, std) + rates + tuple(qs)


def _raw(packed: Any) -> bytes:
    # decoded by check_state when read from a file; still text straight from snapshot
    return unpacked(packed) if isinstance(packed, str) else packed


def archive_part(state: Dict[str, Any], archive: Dict[str, Dict[str, Any]]) -> None:
    """Fold what an exited process counted for good into ``archive``, in place:
    counter and meter counts, and the moments of histograms and timers. Its
    rates, samples and gauges leave with it."""
    for key, count in state["counter"].items():
        counters = archive.setdefault("counter", {})
        counters[key] = counters.get(key, 0) + count
    for key, values in state["meter"].items():
        meters = archive.setdefault("meter", {})
        meters[key] = meters.get(key, 0) + values[0]
    for kind in ("histogram", "timer"):
        kept = archive.setdefault(kind, {})
        kept_buckets = archive.setdefault(kind + "_buckets", {})
        for key, values in state[kind].items():
            kept[key] = list(combine([kept.get(key, _EMPTY), values[:5]]))
            counts = _buckets.merge_flat([kept_buckets.get(key, []), values[-1]])
            kept_buckets[key] = list(chain.from_iterable(counts.items()))


def check_state(state: Any) -> Dict[str, Dict[str, Any]]:
    """``state`` if it has the shape ``snapshot`` gives, else ValueError saying why;
    packed samples are decoded in place.

    Checked with C-level passes over each section: a state is read every cycle.
    """
    if not isinstance(state, dict):
        raise ValueError("not a mapping")
    for kind, width in (("counter", 0), ("meter", 5), ("histogram", 7), ("timer", 11),
                        ("gauge", 0)):
        entries = state.get(kind)
        if not isinstance(entries, Mapping):
            raise ValueError("no %s section" % kind)
        values = list(entries.values())
        if width:
            ok = (set(map(type, values)) <= _LIST and set(map(len, values)) <= {width}
                  and _numbers(chain.from_iterable(map(itemgetter(slice(0, 5)), values)))
                  and (width == 5 or set(map(type, map(itemgetter(5), values))) <= {str}
                       and _numbers(chain.from_iterable(map(itemgetter(slice(6, width - 1)),
                                                           values)))
                       and set(map(type, map(itemgetter(-1), values))) <= _LIST
                       and _ints(chain.from_iterable(map(itemgetter(-1), values)))
                       and not any(len(value[-1]) % 2 for value in values)))
        else:
            ok = _numbers(values, none_too=kind == "gauge")
        if not ok:
            raise ValueError("bad %s section" % kind)
        if width > 5:
            for value in values:
                value[5] = unpacked(value[5])
    return state


_LIST = {list}
_INT = {int}
_NUMBER_TYPES = {int, float}
_NUMBER_OR_NONE = {int, float, type(None)}


def _numbers(values: Iterable[Any], none_too: bool = False) -> bool:
    return set(map(type, values)) <= (_NUMBER_OR_NONE if none_too else _NUMBER_TYPES)


def _ints(values: Iterable[Any]) -> bool:
    return set(map(type, values)) <= _INT
