"""The drop-in registry: pyformance's API and exactly pyformance's values.

With a fixed clock and the same ``random`` state both registries must hold and
report identical numbers, reservoir included; with the real clock, percentiles
agree statistically. Threads never lose an update or get two objects for a key.
"""
import random
import threading

import pyformance
import pytest
from pyformance.meters import Counter, Histogram, Meter, Timer

from apptuit_like.pyformance import MetricsRegistry
from apptuit_like.testing import CaptureReporter
from apptuit_like.timeseries import encode_metric


class StepClock:
    """A clock tests move by hand; crossing an hour makes the reservoir rescale."""

    def __init__(self, now=1700000000.0):
        self.now = now

    def time(self):
        return self.now


def exercise(registry, clock, seed, fold_each=False):
    """The same operations on either registry, with a fresh random state. With
    ``fold_each`` the drop-in histograms fold every value as it comes, so the
    random draws come in pyformance's order."""
    random.seed(seed)
    timer, hist, meter = registry.timer("t"), registry.histogram("h"), registry.meter("m")
    fold = getattr(hist, "flush", None) if fold_each else None
    for i in range(3000):   # past the 1,028-value reservoir, across two rescales
        clock.now += 2.5 if i % 997 else 1800.0
        hist.add((i * 7919) % 1000 / 10.0 - 20)
        if fold:
            fold()
        timer._update((i % 50) / 1000.0)
        if fold:
            timer.flush()
        meter.mark(i % 3)
        registry.counter(encode_metric("c", {"k": str(i % 4)})).inc(i % 5)
    ctx = timer.time()
    clock.now += 0.25
    ctx.stop()


def pair(seed, fold_each):
    theirs_clock, ours_clock = StepClock(), StepClock()
    theirs = pyformance.MetricsRegistry(clock=theirs_clock)
    ours = MetricsRegistry(clock=ours_clock)
    exercise(theirs, theirs_clock, seed)
    exercise(ours, ours_clock, seed, fold_each)
    return theirs, ours


@pytest.mark.parametrize("seed", [1, 2])
def test_folded_in_pyformances_order_every_value_is_pyformances(seed):
    theirs, ours = pair(seed, fold_each=True)
    assert ours.dump_metrics() == theirs.dump_metrics()
    assert ours.histogram("h").sample.values == theirs.histogram("h").sample.values
    assert ours.timer("t").get_count() == 3001 and ours.timer("t").get_max() == 0.25


@pytest.mark.parametrize("seed", [1, 2])
def test_folded_in_batches_moments_and_rates_are_identical_percentiles_close(seed):
    theirs, ours = pair(seed, fold_each=False)
    want, got = theirs.dump_metrics(), ours.dump_metrics()
    assert set(got) == set(want)
    for key, fields in want.items():
        for field, value in fields.items():
            if field.endswith("percentile"):   # another random draw per value
                assert abs(got[key][field] - value) <= 0.05 * (1 + abs(value)), (key, field)
            else:
                assert got[key][field] == value, (key, field)


def test_the_reporter_sends_the_same_series_for_both():
    clocks = StepClock(), StepClock()
    registries = pyformance.MetricsRegistry(clock=clocks[0]), MetricsRegistry(clock=clocks[1])
    sent = []
    for registry, clock in zip(registries, clocks):
        exercise(registry, clock, 3, fold_each=True)
        capture = CaptureReporter(registry, tags={"a": "b"})
        capture.report_now()
        sent.append({(p["metric"], tuple(sorted(p["tags"].items()))): p["value"]
                     for p in capture.points if not p["metric"].startswith("apptuit_")})
    assert sent[0] == sent[1] and len(sent[1]) == 4 + 9 + 15 + 5   # counters, h, t, m


def test_values_waiting_to_be_folded_are_reported():
    registry = MetricsRegistry()
    for value in (3, 1, 2):
        registry.histogram("h").add(value)
    assert len(registry.histogram("h")._pending) == 3   # not folded yet
    capture = CaptureReporter(registry, tags={"a": "b"})
    capture.report_now()
    assert capture.value("h_count") == 3 and capture.value("h_max") == 3
    assert registry.histogram("h").get_min() == 1


def test_classes_are_pyformances_and_the_api_is_the_same():
    registry = MetricsRegistry()
    assert isinstance(registry, pyformance.MetricsRegistry)
    for make, cls in ((registry.counter, Counter), (registry.histogram, Histogram),
                      (registry.meter, Meter), (registry.timer, Timer)):
        metric = make("x")
        assert isinstance(metric, cls) and make("x") is metric
    with registry.timer("block").time():
        pass
    assert registry.timer("block").get_count() == 1
    registry.add("own", Counter())   # pyformance's own classes still register
    registry.counter("own").inc()
    assert registry.dump_metrics()["own"] == {"count": 1}
    registry.clear()
    assert registry.dump_metrics() == {}


def test_percentiles_agree_with_pyformance_on_the_real_clock():
    values = [random.gauss(100, 15) for _ in range(20000)]
    theirs, ours = pyformance.MetricsRegistry(), MetricsRegistry()
    for registry in (theirs, ours):
        hist = registry.histogram("h")
        for value in values:
            hist.add(value)
    a, b = theirs.histogram("h").get_snapshot(), ours.histogram("h").get_snapshot()
    assert abs(a.get_median() - b.get_median()) < 3
    assert abs(a.get_95th_percentile() - b.get_95th_percentile()) < 5
    assert ours.histogram("h").get_count() == 20000 and len(b.values) == 1028


def test_a_threshold_timer_keeps_pyformances_signal_path():
    timer = MetricsRegistry().timer("slow")
    timer.threshold = 10.0
    context = timer.time()
    assert type(context).__module__.startswith("pyformance")
    context.stop()
    assert timer.get_count() == 1


def test_four_threads_lose_no_update_and_share_one_object_per_key():
    registry = MetricsRegistry()
    start = threading.Barrier(4)
    seen = []

    def work():
        start.wait(10)
        seen.append(registry.counter("shared"))
        for _ in range(50000):
            registry.counter(encode_metric("c", {"t": "x"})).inc()
            registry.timer("t")._update(0.001)
            with registry.timer("block").time():   # the inlined path of a timed block
                pass
            registry.histogram("h").add(0.5)
            registry.meter("m").mark()
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(counter) for counter in seen}) == 1
    assert registry.counter(encode_metric("c", {"t": "x"})).get_count() == 200000
    assert registry.timer("t").get_count() == 200000
    assert registry.timer("t").meter.get_count() == 200000
    assert registry.timer("block").get_count() == registry.histogram("h").get_count() == 200000
    assert registry.timer("block").meter.get_count() == 200000
    assert registry.histogram("h").get_sum() == 100000
    assert registry.meter("m").get_count() == 200000


def test_lock_free_unit_increments_stay_exact_beside_other_changes_and_reads():
    counter = MetricsRegistry().counter("c")
    start, done = threading.Barrier(5), threading.Event()
    reads = []

    def work():
        start.wait(10)
        for i in range(40000):
            counter.inc()
            if i % 10 == 0:
                counter.inc(3)
                counter.dec()

    def read():   # reads advance the unit count too: they must not show as updates
        start.wait(10)
        while not done.is_set():
            reads.append(counter.get_count())
            reads.append(counter.counter)
    threads = [threading.Thread(target=work) for _ in range(4)]
    reader = threading.Thread(target=read)
    for thread in threads + [reader]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()
    total = 4 * (40000 + 4000 * 2)
    assert len(reads) > 10 and all(0 <= seen <= total for seen in reads)
    assert counter.get_count() == counter.counter == total
    counter.counter = 5   # pyformance's attribute is writable, as before
    counter.inc()
    assert counter.get_count() == 6
    counter.clear()
    assert counter.get_count() == 0 and counter.counter == 0


def test_encode_metric_remembers_only_string_tags():
    assert encode_metric("m", {"n": 1}) == 'm{"n": 1}'
    assert encode_metric("m", {"n": True}) == 'm{"n": true}'   # equal tuples, other keys
    assert encode_metric("m", {"n": "1"}) == 'm{"n": "1"}'
    assert encode_metric("m", {"b": "2", "a": "1"}) == encode_metric("m", {"a": "1", "b": "2"})
    with pytest.raises(ValueError):
        encode_metric("m", ["not", "a", "dict"])
    with pytest.raises(ValueError):
        encode_metric("", {"a": "b"})


def test_a_value_that_is_not_a_number_raises_at_add_and_costs_nothing_else():
    registry = MetricsRegistry()
    hist = registry.histogram("h")
    hist.add(2)
    for bad in (None, "3", [1]):
        with pytest.raises(TypeError):
            hist.add(bad)
    hist.add(4)
    assert hist.get_count() == 2 and hist.get_max() == 4 and hist.get_mean() == 3


def test_an_idle_timer_is_not_sorted_again_and_a_new_value_is_seen(monkeypatch):
    from apptuit_like.pyformance import _readers
    registry = MetricsRegistry()
    timer = registry.timer("lat")
    for i in range(1, 101):
        timer._update(i / 1000)
    reader = _readers.reader_for("timer", registry, "lat", timer)
    first = reader(timer)
    sorts = []
    real = _readers.sorted_sample
    monkeypatch.setattr(_readers, "sorted_sample", lambda hist: sorts.append(1) or real(hist))
    assert reader(timer)[10:] == first[10:] and not sorts   # idle: the same quantiles
    timer._update(5.0)
    after = reader(timer)
    assert len(sorts) == 1 and after[-1] == 5.0 and after[-1] != first[-1]
    timer.clear()
    assert reader(timer)[10:] == (0, 0, 0, 0, 0) and len(sorts) == 2
