"""Registry → rendered points, with every key's series heads computed once.

For each registry key the collector caches the metric object, a reader that
returns the metric's field values, and one rendered JSON head per field
(``prefix + name + "." + field``, sanitized, tags merged). A cycle then costs a
read of each metric and one string concatenation per point.

Readers for pyformance's own classes read their attributes directly (no getter
calls, no locks taken); subclasses and other registries go through the public
getters. Field names and order are exactly those of pyformance's
``dump_metrics()``, so series names match apptuit-py's.
"""
import logging
import math
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from pyformance.meters import (CallbackGauge, Counter, Gauge, Histogram, Meter,
                               SimpleGauge, Timer)

from .client import render_head
from .encoding import format_value, timestamp_tail
from .errors import ApptuitValueError
from .sanitize import Sanitizer
from .timeseries import decode_metric

log = logging.getLogger("apptuit_like")

SKIP = object()   # a field with nothing to report, e.g. min/max of an empty histogram
_YIELD_EVERY = 256   # keys between GIL hand-overs to application threads
_PERCENTILES = (0.5, 0.75, 0.95, 0.99, 0.999)

METER_FIELDS = ("count", "15m_rate", "5m_rate", "1m_rate", "mean_rate")
HISTOGRAM_FIELDS = ("avg", "count", "max", "min", "std_dev", "75_percentile",
                    "95_percentile", "99_percentile", "999_percentile")
TIMER_FIELDS = ("avg", "sum", "count", "max", "min", "std_dev") + METER_FIELDS[1:] + (
    "50_percentile",) + HISTOGRAM_FIELDS[5:]
FIELDS = {"counter": ("count",), "histogram": HISTOGRAM_FIELDS, "meter": METER_FIELDS,
          "timer": TIMER_FIELDS, "gauge": ("value",)}
# pyformance's registry dicts, in dump_metrics() order
KINDS = (("counter", "_counters"), ("histogram", "_histograms"), ("meter", "_meters"),
         ("timer", "_timers"), ("gauge", "_gauges"))


def percentile(values: Sequence[float], q: float) -> float:
    """pyformance's Snapshot percentile of sorted ``values`` (0 when empty)."""
    length = len(values)
    if not length:
        return 0
    pos = q * (length + 1)
    if pos < 1:
        return values[0]
    if pos >= length:
        return values[-1]
    index = int(pos)
    lower = values[index - 1]
    return lower + (pos - index) * (values[index] - lower)


def _stats(count, total, low, high, var_sum) -> Tuple:
    """(avg, max, min, std_dev) as pyformance computes them; no sentinels when empty."""
    if not count:
        return 0, SKIP, SKIP, 0
    variance = var_sum / (count - 1) if count > 1 else 0
    return total / count, high, low, math.sqrt(variance) if variance > 0 else 0.0


def _read_histogram(hist: Histogram) -> Tuple:
    count = hist.counter
    avg, high, low, std = _stats(count, hist.sum, hist.min, hist.max, hist.var[1])
    values = hist.get_snapshot().values
    return (avg, count, high, low, std) + tuple(percentile(values, q) for q in _PERCENTILES[1:])


def _rates(meter: Meter) -> Tuple:
    count = meter.counter
    elapsed = meter.clock.time() - meter.start_time
    mean = count / elapsed if count and elapsed > 0 else 0
    return (meter.m15rate.get_rate(), meter.m5rate.get_rate(), meter.m1rate.get_rate(), mean)


def _read_meter(meter: Meter) -> Tuple:
    return (meter.counter,) + _rates(meter)


def _read_timer(timer: Timer) -> Tuple:
    hist = timer.hist
    count = hist.counter
    avg, high, low, std = _stats(count, hist.sum, hist.min, hist.max, hist.var[1])
    values = hist.get_snapshot().values
    return (avg, hist.sum, count, high, low, std) + _rates(timer.meter) + tuple(
        percentile(values, q) for q in _PERCENTILES)


def _read_gauge(gauge: Gauge) -> Tuple:
    try:
        return (gauge.get_value(),)
    except Exception as err:   # a user callback: anything may come out of it
        log.debug("gauge %r raised %r", gauge, err)
        return (None,)


def _generic_reader(kind: str, registry: Any, key: str) -> Callable[[Any], Tuple]:
    """Public-getter reader for subclasses: the same dict dump_metrics() builds."""
    getter = getattr(registry, "_get_%s_metrics" % kind)
    fields = FIELDS[kind]

    def read(_metric: Any) -> Tuple:
        values = getter(key)
        return tuple(values.get(field, SKIP) for field in fields)
    return read


_FAST_READERS = {Counter: lambda c: (c.counter,), SimpleGauge: lambda g: (g._value,),
                 CallbackGauge: _read_gauge, Histogram: _read_histogram,
                 Meter: _read_meter, Timer: _read_timer}


class Collector:
    """Renders a registry's metrics as points; keeps each key's heads cached."""

    def __init__(self, prefix: str, tags: Dict[str, str], sanitize: Sanitizer) -> None:
        self.prefix = prefix
        self.tags = tags
        self.sanitize = sanitize
        self._entries: Dict[str, Dict[str, tuple]] = {kind: {} for kind, _ in KINDS}
        self._row_heads: Dict[tuple, Optional[str]] = {}

    def collect(self, registry: Any, timestamp: int) -> Tuple[List[str], int]:
        """Rendered points of every metric in ``registry`` and the count skipped."""
        if not all(hasattr(registry, attr) for _, attr in KINDS):
            return self._collect_dump(registry, timestamp)
        tail = timestamp_tail(str(timestamp))
        out: List[str] = []
        invalid = 0
        for kind, attr in KINDS:
            old = self._entries[kind]
            new = self._entries[kind] = {}
            items = list(getattr(registry, attr).items())
            for start in range(0, len(items), _YIELD_EVERY):
                if start:
                    time.sleep(0)   # let application threads take the GIL
                for key, metric in items[start:start + _YIELD_EVERY]:
                    entry = old.get(key)
                    if entry is None or entry[0] is not metric:
                        entry = self._entry(kind, registry, key, metric)
                    new[key] = entry
                    invalid += _render(entry, out, tail)
        return out, invalid

    def render_rows(self, rows: Sequence[Tuple[str, Dict[str, str], Any]],
                    timestamp: int) -> Tuple[List[str], int]:
        """Points for ad-hoc (name, tags, value) rows, e.g. process metrics."""
        tail = timestamp_tail(str(timestamp))
        out: List[str] = []
        invalid = 0
        for name, tags, value in rows:
            key = (name, tuple(sorted(tags.items())))
            if key not in self._row_heads:
                self._row_heads[key] = self._heads(name, tags, ("",))[0]
            invalid += _render((None, None, (self._row_heads[key],)), out, tail, (value,))
        return out, invalid

    def _entry(self, kind: str, registry: Any, key: str, metric: Any) -> tuple:
        reader = _FAST_READERS.get(type(metric)) or _generic_reader(kind, registry, key)
        try:
            name, tags = decode_metric(key)
        except ValueError as err:
            log.warning("skipping metric %r: %s", key, err)
            return (metric, reader, (None,) * len(FIELDS[kind]))
        return (metric, reader, self._heads(name, tags, FIELDS[kind]))

    def _heads(self, name: str, tags: Dict[str, Any], fields: Sequence[str]) -> tuple:
        merged = dict(self.tags)
        merged.update(tags)
        try:
            return tuple(render_head(self.prefix + name + ("." + f if f else ""), merged,
                                     self.sanitize)[0] for f in fields)
        except ApptuitValueError as err:
            log.warning("skipping metric %r: %s", name, err)
            return (None,) * len(fields)

    def _collect_dump(self, registry: Any, timestamp: int) -> Tuple[List[str], int]:
        """Any registry with dump_metrics(): slower, no per-key reader cache."""
        rows = [(key, field, value) for key, fields in registry.dump_metrics().items()
                for field, value in fields.items()]
        out: List[str] = []
        invalid = 0
        for key, field, value in rows:
            try:
                name, tags = decode_metric(key)
            except ValueError:
                invalid += 1
                continue
            points, bad = self.render_rows([(name + "." + field, tags, value)], timestamp)
            out += points
            invalid += bad
        return out, invalid


def _render(entry: tuple, out: List[str], tail: str, values: Optional[Tuple] = None) -> int:
    """Append one point per renderable field; return how many values were invalid."""
    metric, reader, heads = entry
    if values is None:
        try:
            values = reader(metric)
        except Exception as err:   # a broken metric must not cost the others
            log.debug("reading %r failed: %r", metric, err)
            return len(heads)
    invalid = 0
    append = out.append
    for head, value in zip(heads, values):
        cls = value.__class__
        if cls is float and value - value == 0 or cls is int:
            text = repr(value)
        elif value is SKIP:
            continue
        else:
            text = format_value(value)
            if text is None:
                invalid += 1
                continue
        if head is None:
            invalid += 1
        else:
            append(head + text + tail)
    return invalid
