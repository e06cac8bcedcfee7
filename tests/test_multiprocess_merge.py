"""Merge rules: N processes' snapshots against one process that saw every update."""
import json
import math
import random

import pytest
from pyformance import MetricsRegistry
from pyformance.meters import SimpleGauge

from apptuit_like.pyformance._collect import Collector
from apptuit_like.pyformance._merge import Merger, archive_part, check_state, combine, snapshot
from apptuit_like._sanitize import get_sanitizer
from apptuit_like.timeseries import encode_metric


def rendered(registry):
    """{(series name, tags): value} as the collector would send them."""
    points, _ = Collector("", {"host": "h"}, get_sanitizer("prometheus")).collect(
        registry, 1700000000)
    return {(p["metric"], tuple(sorted(p["tags"].items()))): p["value"]
            for p in map(json.loads, points)}


def apply(updates, registries):
    """Each update goes to one process's registry and to the single-process one."""
    single = MetricsRegistry()
    for process, kind, key, value in updates:
        for registry in (registries[process], single):
            if kind == "counter":
                registry.counter(key).inc(value)
            elif kind == "histogram":
                registry.histogram(key).add(value)
            elif kind == "timer":
                registry.timer(key)._update(value)
            elif kind == "meter":
                registry.meter(key).mark(value)
    return single


def merged(registries, archive=None, **modes):
    live = [(str(1000 + i), float(i), snapshot(r)) for i, r in enumerate(registries)]
    return Merger(**modes).merge(live, archive or {})


@pytest.fixture
def updates():
    rng = random.Random(7)
    keys = {"counter": ["orders", encode_metric("orders", {"city": "blr"})],
            "histogram": ["sizes"], "timer": ["latency"], "meter": ["requests"]}
    out = []
    for _ in range(900):   # fewer samples than one reservoir holds: percentiles are exact
        kind = rng.choice(sorted(keys))
        value = rng.randint(1, 5) if kind in ("counter", "meter") else rng.uniform(0.001, 3)
        out.append((rng.randrange(4), kind, rng.choice(keys[kind]), value))
    return out


def test_counters_meters_histograms_and_timers_match_a_single_process(updates):
    processes = [MetricsRegistry() for _ in range(4)]
    single = rendered(apply(updates, processes))
    combined = rendered(merged(processes))
    assert set(combined) == set(single)
    rates = ("_rate",)
    for series, want in single.items():
        name = series[0]
        if name.endswith(rates):
            continue   # rates are summed (below), not replayed
        if name.endswith(("_count", "_min", "_max")) or "percentile" in name:
            assert combined[series] == want, series
        else:   # sum, avg, std_dev: the same figures, up to the order of float additions
            assert combined[series] == pytest.approx(want, rel=1e-9), series


class Clock:
    """pyformance's clock, frozen between reads so that rates hold still."""

    def __init__(self):
        self.now = 1700000000.0

    def time(self):
        return self.now


def test_rates_are_the_sum_of_the_live_processes_rates(updates):
    clock = Clock()
    processes = [MetricsRegistry(clock=clock) for _ in range(4)]
    apply(updates, processes)
    clock.now += 12   # past the 5 s tick: the moving averages have a value
    each = [rendered(r) for r in processes]
    combined = rendered(merged(processes))
    rates = {series: value for series, value in combined.items() if series[0].endswith("_rate")}
    assert len(rates) == 8 and all(value > 0 for value in rates.values())
    for series, value in rates.items():
        assert value == pytest.approx(sum(one.get(series, 0) for one in each), rel=1e-9)


def test_empty_histogram_reports_no_min_max_as_a_single_process_does():
    processes = [MetricsRegistry(), MetricsRegistry()]
    for registry in processes:
        registry.histogram("empty")
    assert rendered(merged(processes)) == rendered(processes[0])


def test_exited_processes_keep_their_counts_but_not_their_samples_or_rates():
    gone, alive = MetricsRegistry(), MetricsRegistry()
    gone.counter("orders").inc(10)
    gone.meter("requests").mark(4)
    gone.timer("latency")._update(9.0)
    gone.histogram("only_gone").add(2.0)
    alive.counter("orders").inc(1)
    alive.timer("latency")._update(1.0)
    archive = {}
    archive_part(snapshot(gone), archive)
    values = rendered(merged([alive], archive=archive))
    tags = (("host", "h"),)
    assert values[("orders_count", tags)] == 11
    assert values[("requests_count", tags)] == 4
    assert values[("requests_1m_rate", tags)] == 0.0
    assert values[("latency_count", tags)] == 2
    assert values[("latency_max", tags)] == 9.0          # an all-time figure: kept
    assert values[("latency_99_percentile", tags)] == 1.0   # samples left with it
    assert values[("only_gone_count", tags)] == 1 and values[("only_gone_max", tags)] == 2.0


def test_pooled_moments_equal_those_of_all_values():
    rng = random.Random(1)
    values = [rng.gauss(10, 3) for _ in range(500)]
    parts = []
    for chunk in (values[:100], values[100:101], values[101:]):
        mean = sum(chunk) / len(chunk)
        parts.append((len(chunk), sum(chunk), min(chunk), max(chunk),
                      sum((v - mean) ** 2 for v in chunk)))
    n, total, low, high, m2 = combine(parts)
    mean = sum(values) / len(values)
    assert (n, low, high) == (500, min(values), max(values))
    assert total == pytest.approx(sum(values))
    assert m2 == pytest.approx(sum((v - mean) ** 2 for v in values))


def gauges(values, **modes):
    processes = []
    for value in values:
        registry = MetricsRegistry()
        registry.add(encode_metric("queue_depth", {"q": "a"}), SimpleGauge(value))
        processes.append(registry)
    return {(name, tags): value for (name, tags), value in
            rendered(merged(processes, **modes)).items()}


def test_gauges_per_process_by_default_tagged_with_the_worker():
    out = gauges([3, 5])
    assert out == {("queue_depth_value", (("host", "h"), ("q", "a"), ("worker_id", "1000"))): 3,
                   ("queue_depth_value", (("host", "h"), ("q", "a"), ("worker_id", "1001"))): 5}


@pytest.mark.parametrize("mode, want", [("sum", 8), ("max", 5), ("min", 3), ("latest", 5)])
def test_combined_gauge_modes(mode, want):
    assert gauges([3, 5], gauge_mode=mode) == {
        ("queue_depth_value", (("host", "h"), ("q", "a"))): want}


def test_gauge_modes_per_metric_override_the_default():
    out = gauges([3, 5], gauge_mode="max", gauge_modes={"queue_depth": "sum"})
    assert list(out.values()) == [8]


def test_a_gauge_without_a_value_is_left_out_of_combinations():
    assert list(gauges([3, math.nan], gauge_mode="sum").values()) == [3]


def test_unknown_gauge_mode_is_refused_by_name():
    with pytest.raises(ValueError, match="'average'"):
        Merger(gauge_mode="average")


def test_merged_objects_are_reused_so_the_collector_cache_holds(updates):
    processes = [MetricsRegistry() for _ in range(4)]
    apply(updates, processes)
    merger = merged(processes)
    first = dict(merger._timers)
    live = [(str(i), 0.0, snapshot(r)) for i, r in enumerate(processes)]
    assert all(merger.merge(live, {})._timers[k] is v for k, v in first.items())


@pytest.mark.parametrize("state", [None, [], {"counter": {}}, {
    "counter": {"a": "1"}, "meter": {}, "histogram": {}, "timer": {}, "gauge": {}}, {
    "counter": {}, "meter": {}, "histogram": {"h": [1, 2]}, "timer": {}, "gauge": {}}])
def test_malformed_states_are_refused(state):
    with pytest.raises(ValueError):
        check_state(state)


def test_a_merged_counter_costs_its_count_and_little_else():
    """The sender keeps a view of every merged series: at 100k counters a pyformance
    Counter per series (lock and __dict__ included, ~185 bytes) was 14 MB of it."""
    import gc
    import tracemalloc
    keys = [encode_metric("orders_%d" % (i // 1000), {"shard": str(i)}) for i in range(20000)]
    state = dict(snapshot(MetricsRegistry()), counter=dict.fromkeys(keys, 3))
    live = [("1", 0.0, state), ("2", 0.0, dict(state))]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        view = Merger().merge(live, {})
        gc.collect()
        per_key = (tracemalloc.get_traced_memory()[0] - before) / len(keys)
    finally:
        tracemalloc.stop()
    assert rendered(view)[("orders_0_count", (("host", "h"), ("shard", "0")))] == 6
    assert per_key < 150, per_key
