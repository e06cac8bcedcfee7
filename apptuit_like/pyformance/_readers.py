"""Readers of metric objects: each returns a metric's field values, in the order
and with the names of pyformance's ``dump_metrics()``, so series names match
apptuit-py's.

Readers for pyformance's own classes (and apptuit_like's drop-in subclasses, which
keep pyformance's attributes) read attributes directly: no getter calls, no locks
taken; other classes and registries go through the public getters.
"""
import logging
import math
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from pyformance.meters import (CallbackGauge, Counter, Gauge, Histogram, Meter,
                               SimpleGauge, Timer)
from pyformance.stats.samples import ExpDecayingSample

from .._wire import SKIP
from . import _buckets, metrics as dropin

log = logging.getLogger("apptuit_like")

METER_FIELDS = ("count", "15m_rate", "5m_rate", "1m_rate", "mean_rate")
HISTOGRAM_FIELDS = ("avg", "count", "max", "min", "std_dev", "75_percentile",
                    "95_percentile", "99_percentile", "999_percentile")
TIMER_FIELDS = ("avg", "sum", "count", "max", "min", "std_dev") + METER_FIELDS[1:] + (
    "50_percentile",) + HISTOGRAM_FIELDS[5:]
FIELDS = {"counter": ("count",), "histogram": HISTOGRAM_FIELDS, "meter": METER_FIELDS,
          "timer": TIMER_FIELDS, "gauge": ("value",)}


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


def quantiles(values: Sequence[float]) -> Tuple:
    """Median, 75th, 95th, 99th and 99.9th percentiles of sorted ``values``."""
    return (percentile(values, 0.5), percentile(values, 0.75), percentile(values, 0.95),
            percentile(values, 0.99), percentile(values, 0.999))


def sample_quantiles(hist: Histogram) -> Tuple:
    """``quantiles`` of a histogram's sample. A drop-in histogram keeps them
    until a value folds in (or it is cleared): an idle timer is not re-sorted on
    every report."""
    if not hasattr(hist, "_quantiles"):   # pyformance's own, or another kind
        return quantiles(sorted_sample(hist))
    cached: Optional[Tuple[float, Tuple]] = hist._quantiles
    count = hist.counter
    if cached is not None and cached[0] == count:
        return cached[1]
    found = quantiles(sorted_sample(hist))
    hist._quantiles = (count, found)
    return found


def sorted_sample(hist: Histogram) -> Sequence[float]:
    sample = hist.sample
    if type(sample) is ExpDecayingSample:
        return sorted(sample.values.values())
    return hist.get_snapshot().values


def _stddev(hist: Histogram, count: float) -> float:
    variance = hist.var[1] / (count - 1) if count > 1 else 0
    return math.sqrt(variance) if variance > 0 else 0.0


def mean_rate(meter: Meter) -> float:
    count = meter.counter
    elapsed = meter.clock.time() - meter.start_time
    return count / elapsed if count and elapsed > 0 else 0


# The readers below build one tuple each and nothing else: they run for every
# metric on every cycle, and fewer allocations mean fewer GC passes.

def _read_histogram(hist: Histogram) -> Tuple:
    count = hist.counter
    p50, p75, p95, p99, p999 = sample_quantiles(hist)
    if not count:   # pyformance's ±2147483647 sentinels are not data
        return (0, count, SKIP, SKIP, 0, p75, p95, p99, p999)
    return (hist.sum / count, count, hist.max, hist.min, _stddev(hist, count),
            p75, p95, p99, p999)


def _read_meter(meter: Meter) -> Tuple:
    return (meter.counter, meter.m15rate.get_rate(), meter.m5rate.get_rate(),
            meter.m1rate.get_rate(), mean_rate(meter))


def _read_timer(timer: Timer) -> Tuple:
    hist, meter = timer.hist, timer.meter
    count = hist.counter
    p50, p75, p95, p99, p999 = sample_quantiles(hist)
    if count:
        avg, high, low, std = hist.sum / count, hist.max, hist.min, _stddev(hist, count)
    else:
        avg = std = 0
        high = low = SKIP
    return (avg, hist.sum, count, high, low, std, meter.m15rate.get_rate(),
            meter.m5rate.get_rate(), meter.m1rate.get_rate(), mean_rate(meter),
            p50, p75, p95, p99, p999)


def warn_failed_read(warned: set, key: str, err: Exception) -> None:
    """A metric (most often a gauge's callback) raised when read: warn once per
    key in ``warned``, naming it; its values are skipped and counted as invalid."""
    if key not in warned:
        warned.add(key)
        log.warning("reading metric %r failed, its value is skipped (warned once): "
                    "%s: %s", key, type(err).__name__, err)


def _read_gauge(gauge: Gauge) -> Tuple:
    return (gauge.get_value(),)   # a user callback may raise: _read catches it


def generic_reader(kind: str, registry: Any, key: str) -> Callable[[Any], Tuple]:
    """Public-getter reader for subclasses: the same dict dump_metrics() builds."""
    getter = getattr(registry, "_get_%s_metrics" % kind)
    fields = FIELDS[kind]

    def read(_metric: Any) -> Tuple:
        values = getter(key)
        return tuple(values.get(field, SKIP) for field in fields)
    return read


class FieldValues:
    """A metric whose field values were computed elsewhere (a multi-process
    merge), in the order of ``FIELDS`` for its kind."""

    __slots__ = ("values", "buckets")

    def __init__(self, values: Tuple[Any, ...] = ()) -> None:
        self.values = values
        # (bucket counts, sum): exact, summed over processes
        self.buckets: Optional[Tuple[Dict[int, int], float]] = None


class MergedCount:
    """A counter's total in a multi-process merge: the count and nothing else (a
    pyformance ``Counter`` would add a lock and a ``__dict__``, ~140 bytes a series).

    >>> total = MergedCount()
    >>> total.counter = 7
    >>> _count_attrs([total])
    [7]
    """

    __slots__ = ("counter",)

    def __init__(self) -> None:
        self.counter: float = 0


def read_buckets(metric: Any) -> Optional[Tuple[Dict[int, int], float]]:
    """The bucket counts (see ``_buckets.py``) and the sum of a histogram or a
    timer: exact for this package's classes and merged views, the counts
    estimated from the reservoir for pyformance's own; None for other objects."""
    if type(metric) is FieldValues:
        return metric.buckets
    hist = getattr(metric, "hist", metric)   # a timer's histogram
    if getattr(hist, "_buckets", None) is not None:
        hist.flush()
        with hist.lock:   # a copy: the fold goes on counting into the original
            counts = dict(hist._buckets)
        return _buckets.fine(counts), hist.sum
    if not isinstance(hist, Histogram):
        return None
    return _buckets.estimated(hist, sorted_sample(hist), hist.counter), hist.sum


def _read_counter(counter: Counter) -> Tuple:
    return (counter.counter,)


def _read_folded(read: Callable[[Any], Tuple]) -> Callable[[Any], Tuple]:
    """``read`` for a drop-in histogram or timer, after it folds pending values."""
    def folded(metric: Any) -> Tuple:
        metric.flush()
        return read(metric)
    return folded


# apptuit_like's drop-in classes keep pyformance's attributes: the same readers
FAST_READERS = {Counter: _read_counter, SimpleGauge: lambda g: (g._value,),
                 CallbackGauge: _read_gauge, Histogram: _read_histogram,
                 Meter: _read_meter, Timer: _read_timer, FieldValues: lambda f: f.values,
                 MergedCount: _read_counter,
                 dropin.Counter: _read_counter, dropin.Meter: _read_meter,
                 dropin.Histogram: _read_folded(_read_histogram),
                 dropin.Timer: _read_folded(_read_timer)}


def _count_attrs(counters: list) -> list:
    return [counter.counter for counter in counters]


def counts_reader(metrics: list) -> Optional[Callable[[list], list]]:
    """One call reading the counts of ``metrics`` when all are counters."""
    kinds = set(map(type, metrics))
    if kinds == {dropin.Counter}:
        return dropin._counts
    return _count_attrs if kinds <= {Counter, dropin.Counter, MergedCount} else None


def reader_for(kind: str, registry: Any, key: str, metric: Any) -> Callable[[Any], Tuple]:
    """The reader of one metric: a fast one for known classes, else the getters'."""
    return FAST_READERS.get(type(metric)) or generic_reader(kind, registry, key)
