"""A faster drop-in for pyformance's ``MetricsRegistry`` and its metric classes.

Same methods, same attributes, same reported fields and the same sampling:
each class subclasses pyformance's own, so code, ``isinstance`` checks and the
reporter see pyformance objects. What changes is the cost of an update, which
is where an instrumented service spends its metrics CPU:

- ``registry.counter(key)`` (and the others) is one dict lookup on the hot path;
  a new key is created under a lock, so two threads never get two objects.
- ``Histogram.add`` appends the value and its time to a list, one atomic
  append and no lock; every 128 values, and whenever the histogram is read, the
  values are folded in order into pyformance's forward-decaying reservoir and
  running moments, in one loop under the lock. Four threads recording at once
  never queue on a lock.
- ``Meter.mark`` feeds the three moving averages without three method calls.
- ``Timer.time()`` returns a small context timed with ``time.perf_counter``
  (monotonic, so a wall-clock step never records a negative or huge duration);
  a registry built with its own ``clock`` keeps timing with that clock.

With a fixed clock and the same ``random`` state, every reported value is
identical to pyformance's; counts, sums, minima, maxima and rates always are,
and percentiles are statistically the same (tests/test_metrics.py).

>>> registry = MetricsRegistry()
>>> registry.counter("orders").inc(3)
>>> with registry.timer("latency").time():
...     pass
>>> registry.counter("orders").get_count(), registry.timer("latency").get_count()
(3, 1.0)
"""
import collections
import heapq
import itertools
import math
import random
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import pyformance
from pyformance.meters import counter as _counter, histogram as _histogram
from pyformance.meters import meter as _meter, timer as _timer
from pyformance.stats.samples import DEFAULT_ALPHA, DEFAULT_SIZE, ExpDecayingSample

from . import _buckets, decorators
from ._shared_locks import shared_lock as _shared_lock

__all__ = ["MetricsRegistry", "Counter", "Histogram", "Meter", "Timer"]

# bound once: the hot path pays no module attribute lookups (random.seed() still
# governs _random, the global generator's own method)
_exp, _random = math.exp, random.random
_heappush, _heappop, _heapreplace = heapq.heappush, heapq.heappop, heapq.heapreplace


# Locks are taken with `with`: acquire() and release() as calls are a third cheaper
# alone, but CPython may hand the GIL to another thread right after the acquire()
# call returns, and four threads then queue on the lock (measured: 3-6x slower
# in some runs); `with` leaves no such point inside the locked section.


_ONE = 1   # inc()'s default, told apart by identity: any other 1 takes the lock
# next() on an itertools.count is one C call, so the GIL makes it atomic; a
# free-threaded build has no GIL, and every update there takes the lock
_ATOMIC_NEXT = getattr(sys, "_is_gil_enabled", lambda: True)()


class Counter(_counter.Counter):  # type: ignore[misc]  # pyformance has no types
    """pyformance's Counter; ``inc()`` by the default 1 takes no lock.

    Unit increments are counted by an ``itertools.count``, which a read advances
    too; each read takes one off the rest of the count to make up for its own
    step. ``counter`` stays pyformance's attribute, read and written through a
    property.

    >>> counter = Counter()
    >>> counter.inc(); counter.inc(); counter.inc(2.5); counter.dec()
    >>> counter.get_count(), counter.counter
    (3.5, 3.5)
    >>> counter.clear(); counter.inc(); counter.get_count()
    1
    """

    def __init__(self) -> None:  # pylint: disable=super-init-not-called
        self.lock = _shared_lock()   # one of 64 that all counters share
        self._units = itertools.count()
        # every change but the unit increments, less one for each read's step
        self._rest: float = 0

    if _ATOMIC_NEXT:
        def inc(self, val: float = _ONE) -> None:
            """Add ``val`` (pyformance's method)."""
            if val is _ONE:
                next(self._units)
                return
            with self.lock:
                self._rest += val
    else:  # pragma: no cover - free-threaded builds
        def inc(self, val: float = _ONE) -> None:
            """Add ``val`` (pyformance's method)."""
            with self.lock:
                self._rest += val

    def dec(self, val: float = 1) -> None:
        """Subtract ``val`` (pyformance's method)."""
        with self.lock:
            self._rest -= val

    def get_count(self) -> float:
        """The current count (pyformance's method)."""
        with self.lock:
            return self._read()

    def _set_count(self, value: float) -> None:
        with self.lock:   # the next step of _units is then value - _rest: the count
            self._rest = value - next(self._units) - 1

    counter = property(get_count, _set_count, doc="The current count (pyformance's attribute).")

    def clear(self) -> None:
        """Reset the count to 0 (pyformance's method)."""
        self._set_count(0)

    def _read(self) -> float:
        """The count; the caller holds the lock."""
        rest = self._rest
        value: float = rest + next(self._units)
        self._rest = rest - 1
        return value


def _counts(counters: List[Counter]) -> List[float]:
    """The counts of drop-in counters, as their ``get_count()`` gives them, in one
    loop (the report cycle's read of every counter).

    >>> first, second = Counter(), Counter()
    >>> second.inc(); second.inc(4)
    >>> _counts([first, second])
    [0, 5]
    """
    out: List[float] = []
    append = out.append
    for counter in counters:
        # Counter._read, inlined; acquire() and release() as calls, a third
        # cheaper than `with`: unit increments never wait on this lock, so a GIL
        # hand-over right after acquire() queues no application thread behind it
        lock = counter.lock
        lock.acquire()
        try:
            rest = counter._rest
            append(rest + next(counter._units))
            counter._rest = rest - 1
        finally:
            lock.release()
    return out


_FOLD_AT = 128   # values a histogram holds back before folding them in (a power of 2)
_FOLD_MASK = _FOLD_AT - 1


def _rescale(sample: ExpDecayingSample, now: float) -> None:
    """pyformance's ExpDecayingSample._rescale, at the time the value came."""
    old_start, sample.start_time = sample.start_time, now
    sample.next_time = now + ExpDecayingSample.RESCALE_THREASHOLD
    factor = math.exp(-sample.alpha * (now - old_start))
    sample.values = {priority * factor: value for priority, value in sample.values.items()}
    sample.priorities = list(sample.values)
    heapq.heapify(sample.priorities)
    sample.counter = len(sample.values)


def _fold(hist: "Histogram", batch: List[Tuple[float, float]]) -> None:
    """pyformance's Histogram.add and ExpDecayingSample.update for each (value,
    time added) in order, and each value counted in its bucket (``_buckets``);
    the caller holds ``hist.lock``."""
    sample = hist.sample
    size, alpha = sample.size, sample.alpha
    # the sample's fields in locals for the loop (a rescale replaces them)
    values, heap, seen = sample.values, sample.priorities, sample.counter
    next_time, start = sample.next_time, sample.start_time
    count, total, high, low = hist.counter, hist.sum, hist.max, hist.min
    var = hist.var
    mean, squares = var
    buckets = hist._buckets
    if buckets is not None:
        buckets.update(_buckets.keys(batch))   # one C-level pass over the batch
    for value, now in batch:
        if size:
            if now >= next_time:
                _rescale(sample, now)
                values, heap, seen = sample.values, sample.priorities, sample.counter
                next_time, start = sample.next_time, sample.start_time
            priority = _exp(alpha * (now - start)) / _random()
            seen += 1
            if seen <= size:
                values[priority] = value
                _heappush(heap, priority)
            elif heap[0] < priority and priority not in values:
                values[priority] = value
                first = _heapreplace(heap, priority)
                while first not in values:   # entries a rescale left behind
                    first = _heappop(heap)
                del values[first]
        count += 1
        if value > high:
            high = value
        if value < low:
            low = value
        total += value
        if mean == -1:   # pyformance's "no value yet", kept for identical results
            mean = value
        else:
            old, mean = mean, mean + (value - mean) / count
            squares += (value - old) * (value - mean)
    sample.counter = seen
    hist.counter, hist.sum, hist.max, hist.min = count, total, high, low
    var[0], var[1] = mean, squares


class Histogram(_histogram.Histogram):  # type: ignore[misc]
    """pyformance's Histogram. ``add`` appends the value and its time to a list
    (one atomic append: no lock on the hot path); the values are folded into the
    reservoir and the moments, in order, every 128 values and whenever the
    histogram is read through its getters, the reporter or :meth:`flush`.
    pyformance's attributes (``counter``, ``sum``, ...) are current after a flush.
    Each value is also counted exactly in a log-spaced bucket (``_buckets.py``),
    which the reporter's ``histogram_buckets`` modes send.
    """

    def __init__(self, size: int = DEFAULT_SIZE, alpha: float = DEFAULT_ALPHA,
                 clock: Any = time, sample: Any = None) -> None:
        self._pending: List[Tuple[float, float]] = []   # before pyformance's clear()
        self._meter: Optional[Meter] = None   # a timer's meter, marked as values fold
        # (count, quantiles) of the sample as last read (see _readers.sample_quantiles)
        self._quantiles: Optional[Tuple[float, Tuple[float, ...]]] = None
        # values counted by bucket key (see _buckets.keys); None where values never fold
        self._buckets: Optional["collections.Counter[int]"] = collections.Counter()
        super().__init__(size=size, alpha=alpha, clock=clock, sample=sample)
        self._now: Callable[[], float] = clock.time
        if type(self.sample) is not ExpDecayingSample:   # another sample: pyformance's
            self.add = super().add  # type: ignore[method-assign]
            self._buckets = None   # counted from the sample by the reporter instead

    def add(self, value: float) -> None:
        """Add a value (pyformance's method)."""
        pending = self._pending
        # "+ 0.0" raises here, as pyformance does, for what is not a number: a bad
        # value must never reach the fold, which would fail on it forever after
        pending.append((value + 0.0, self._now()))
        if not len(pending) & _FOLD_MASK:
            # every 128th value tries a fold; while another thread folds, the
            # others keep appending and only each 128th of them checks again
            self.flush(wait=False)

    def flush(self, wait: bool = True) -> None:
        """Fold the values added so far into the reservoir and the moments (and
        count them on the timer's meter, for a timer's histogram)."""
        pending = self._pending
        if not pending or not self.lock.acquire(wait):
            return
        try:
            count = len(pending)   # values appended meanwhile wait for the next fold
            _fold(self, pending[:count])
            del pending[:count]
        finally:
            self.lock.release()
        if self._meter is not None:
            self._meter.mark(count)

    def clear(self) -> None:
        """Reset to empty (pyformance's method)."""
        with self.lock:
            self._pending.clear()
            self._quantiles = None
            if self._buckets is not None:
                self._buckets = collections.Counter()
        super().clear()


def _folding_first(base: type, name: str) -> Callable[..., Any]:
    """pyformance's getter ``name`` of ``base``, reading after a flush()."""
    getter = getattr(base, name)

    def read(self: Any) -> Any:
        self.flush()
        return getter(self)
    read.__name__, read.__doc__ = name, getter.__doc__
    return read


for _name in ("get_count", "get_sum", "get_max", "get_min", "get_mean", "get_stddev",
              "get_var", "get_snapshot"):
    setattr(Histogram, _name, _folding_first(_histogram.Histogram, _name))


class Meter(_meter.Meter):  # type: ignore[misc]
    """pyformance's Meter; ``mark`` adds to the moving averages directly."""

    def mark(self, value: float = 1) -> None:
        """Count ``value`` events (pyformance's method)."""
        with self.lock:
            self.counter += value
            self.m1rate.uncounted += value
            self.m5rate.uncounted += value
            self.m15rate.uncounted += value


class _Timing:
    """What ``Timer.time()`` returns: a context manager (``with``, or ``async with``
    around awaited code), a decorator timing each call (a coroutine function's
    awaited run), or call ``stop()``."""

    __slots__ = ("timer", "start_time")

    def __init__(self, timer: "Timer") -> None:
        self.timer = timer
        self.start_time = timer._elapsed_clock()

    def __enter__(self) -> "_Timing":
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        timer = self.timer
        seconds = timer._elapsed_clock() - self.start_time
        hist = timer.hist
        if seconds >= 0 and hist._meter is not None and not timer.sink:
            # Timer._update and Histogram.add inlined: two calls fewer per timed block
            pending = hist._pending
            pending.append((seconds, hist._now()))
            if not len(pending) & _FOLD_MASK:
                hist.flush(wait=False)
        else:
            timer._update(seconds)

    async def __aenter__(self) -> "_Timing":
        return self

    async def __aexit__(self, exc_type: object, exc: object, traceback: object) -> None:
        self.__exit__(exc_type, exc, traceback)

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        timer = self.timer
        return decorators._wrap(fn, lambda: _Timing(timer),
                               lambda timing, ok, result: timing.__exit__(None, None, None))

    def stop(self) -> float:
        """Record and return the seconds since the timing started."""
        elapsed: float = self.timer._elapsed_clock() - self.start_time
        self.timer._update(elapsed)
        return elapsed


class Timer(_timer.Timer):  # type: ignore[misc]
    """pyformance's Timer, built on this module's Histogram and Meter."""

    def __init__(self, threshold: Any = None, size: int = DEFAULT_SIZE,
                 alpha: float = DEFAULT_ALPHA, clock: Any = time, sink: Any = None,
                 sample: Any = None) -> None:
        super().__init__(threshold=threshold, size=size, alpha=alpha, clock=clock, sink=sink,
                         sample=sample)
        self.meter = Meter(clock=clock)
        self.hist = Histogram(size=size, alpha=alpha, clock=clock, sample=sample)
        if type(self.hist.sample) is ExpDecayingSample:
            self.hist._meter = self.meter
        self._elapsed_clock: Callable[[], float] = (
            time.perf_counter if clock is time else clock.time)

    def time(self, *args: Any, **kwargs: Any) -> Any:
        """A context timing a block (pyformance's method), also ``async with`` and
        as a decorator: ``@registry.timer("ship").time()`` on a function or a
        coroutine function times each call's run. With a ``threshold``,
        pyformance's own context, which signals calls that take too long."""
        if self.threshold is not None:
            return super().time(*args, **kwargs)
        return _Timing(self)

    def _update(self, seconds: float) -> None:
        if seconds < 0:
            return
        hist = self.hist
        if hist._meter is None:   # another kind of sample: pyformance's way
            hist.add(seconds)
            self.meter.mark()
        else:
            hist.add(seconds)   # the meter is marked as the histogram folds
        if self.sink:
            self.sink.add(seconds)

    def flush(self) -> None:
        """Fold the durations recorded so far (see :class:`Histogram`)."""
        self.hist.flush()


for _name in ("get_mean_rate", "get_one_minute_rate", "get_five_minute_rate",
              "get_fifteen_minute_rate"):
    setattr(Timer, _name, _folding_first(_timer.Timer, _name))


class MetricsRegistry(pyformance.MetricsRegistry):  # type: ignore[misc]
    """pyformance's MetricsRegistry, with this module's faster metric classes.

    A drop-in: the same methods, and the reporter sends the same series for it.
    """

    def __init__(self, clock: Any = time) -> None:
        super().__init__(clock)
        self._lock = threading.Lock()

    def _create(self, metrics: Dict[str, Any], key: str, make: Callable[[], Any]) -> Any:
        with self._lock:
            metric = metrics.get(key)
            if metric is None:
                metric = metrics[key] = make()
            return metric

    def counter(self, key: str) -> Counter:
        """The counter of ``key``, created on first use."""
        try:
            found: Counter = self._counters[key]
        except KeyError:
            found = self._create(self._counters, key, Counter)
        return found

    def histogram(self, key: str) -> Histogram:
        """The histogram of ``key``, created on first use."""
        try:
            found: Histogram = self._histograms[key]
        except KeyError:
            found = self._create(self._histograms, key, lambda: Histogram(clock=self._clock))
        return found

    def meter(self, key: str) -> Meter:
        """The meter of ``key``, created on first use."""
        try:
            found: Meter = self._meters[key]
        except KeyError:
            found = self._create(self._meters, key, lambda: Meter(clock=self._clock))
        return found

    def timer(self, key: str) -> Timer:
        """The timer of ``key``, created on first use."""
        try:
            found: Timer = self._timers[key]
        except KeyError:
            found = self._create(self._timers, key, lambda: Timer(
                clock=self._clock, sink=self.create_sink()))
        return found
