"""Bucket counts: the layouts, exact counting in the drop-in classes, estimates for
pyformance's own, sums across processes and overflow, and the reporter's option."""
import bisect
import json
import logging
import math
import random

import pytest
import pyformance

from apptuit_like import ApptuitValueError
from apptuit_like._sanitize import get_sanitizer
from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry
from apptuit_like.pyformance import _buckets
from apptuit_like.pyformance._collect import Collector
from apptuit_like.pyformance._merge import Merger, archive_part, check_state, snapshot
from apptuit_like.timeseries import encode_metric


def bounds(label):
    low, high = label.split("...")
    return float(low), math.inf if high == "+Inf" else float(high)


def collect(registry, mode, **options):
    collector = Collector("", {"host": "h"}, get_sanitizer("prometheus"),
                          histogram_buckets=mode, **options)
    points, invalid = collector.collect(registry, 1700000000)
    assert invalid == 0
    return [json.loads(point) for point in points]


def buckets_of(points, name, label):
    return {p["tags"][label]: p["value"] for p in points if p["metric"] == name}


def test_every_value_lands_in_the_vmrange_bucket_whose_bounds_hold_it():
    draw = random.Random(1)
    values = [draw.lognormvariate(-4, 3) for _ in range(5000)] + [0.0, 1e-12, 1e20, 1.0,
                                                                   10.0, 1e-9]
    for value in values:
        label = dict(_buckets.vmrange_series({_buckets.index(value): 1}))
        (text,) = label
        low, high = bounds(text)
        # upper bounds belong to the bucket (VictoriaMetrics' rule); 4 digits of a label
        assert low * (1 - 1e-3) <= value <= high * (1 + 1e-3), (value, text)
    assert _buckets.index(-1.0) == _buckets.NEGATIVE
    assert _buckets.index(float("nan")) is None


def test_the_vmrange_labels_are_victoriametrics_own():
    labels = [label for label, _ in _buckets.vmrange_series(
        {i: 1 for i in range(_buckets.LOWER, _buckets.UPPER + 1)})]
    assert labels[0] == "0...1.000e-09" and labels[-1] == "1.000e+18...+Inf"
    assert "1.000e+00...1.136e+00" in labels and "8.799e-01...1.000e+00" in labels
    assert len(labels) == 27 * 18 + 2
    assert all(a.split("...")[1] == b.split("...")[0] for a, b in zip(labels, labels[1:]))


def test_drop_in_histograms_and_timers_count_every_value_exactly():
    registry = MetricsRegistry()
    hist, timer = registry.histogram("size"), registry.timer("lat")
    draw = random.Random(2)
    values = [draw.expovariate(1 / 300) for _ in range(20000)] + [0, -5, -7]
    for value in values:
        hist.add(value)
        timer._update(value / 1000)
    points = collect(registry, "le")
    for name, scale in (("size_bucket", 1), ("lat_bucket", 1000)):
        cumulative = buckets_of(points, name, "le")
        assert list(cumulative) == ["%.4g" % b for b in _buckets.LE_BOUNDS] + ["+Inf"]
        # a timer drops negative durations, as pyformance's does
        numbers = sorted(v / scale for v in values if v >= 0 or scale == 1)
        for le, count in cumulative.items():
            if le == "+Inf":
                assert count == len(numbers)
                continue
            # a label has 4 digits of its bound (215.4 for 215.443...)
            bound = float(le)
            low = bisect.bisect_right(numbers, bound * (1 - 3e-4))
            high = bisect.bisect_right(numbers, bound * (1 + 3e-4))
            assert low <= count <= high, (name, le)
    # the timer refuses negatives as pyformance does; the histogram keeps them below all
    assert buckets_of(points, "size_bucket", "le")["0.0001"] >= 3


def test_vmrange_counts_add_up_to_the_count_and_empty_buckets_are_not_sent():
    registry = MetricsRegistry()
    timer = registry.timer(encode_metric("lat", {"route": "/a"}))
    for seconds in (0.00105, 0.0011, 0.0012, 0.3):
        timer._update(seconds)
    points = collect(registry, "vmrange")
    series = buckets_of(points, "lat_bucket", "vmrange")
    assert series == {"1.000e-03...1.136e-03": 2, "1.136e-03...1.292e-03": 1,
                      "2.783e-01...3.162e-01": 1}
    assert all(p["tags"]["route"] == "/a" for p in points if p["metric"] == "lat_bucket")


def test_no_mode_sends_exactly_the_series_of_before():
    registry = MetricsRegistry()
    registry.timer("lat")._update(0.2)
    registry.histogram("size").add(3)
    names = {p["metric"] for p in collect(registry, None)}
    assert not {n for n in names if n.endswith(("_bucket", "size_sum"))}
    with_buckets = {p["metric"] for p in collect(registry, "vmrange")}
    assert with_buckets - names == {"lat_bucket", "size_bucket", "size_sum"}


def test_pyformance_own_histograms_get_whole_cumulative_estimates():
    registry = pyformance.MetricsRegistry()
    hist = registry.histogram("size")
    collector = Collector("", {"host": "h"}, get_sanitizer("prometheus"),
                          histogram_buckets="vmrange")
    draw = random.Random(3)
    last = {}
    for round_ in range(5):
        for _ in range(3000):
            hist.add(draw.choice((1.0, 10.0, 100.0)) * (1 + draw.random() / 20))
        points, _ = collector.collect(registry, 1700000000 + round_)
        series = buckets_of([json.loads(p) for p in points], "size_bucket", "vmrange")
        assert sum(series.values()) == hist.get_count()
        assert all(isinstance(v, int) for v in series.values())
        assert all(series.get(label, 0) >= count for label, count in last.items())
        last = series
    # three clusters, a third of the values each, give or take the sample's error
    by_decade = {}
    for label, count in last.items():
        decade = round(math.log10(bounds(label)[0]))
        by_decade[decade] = by_decade.get(decade, 0) + count
    assert all(abs(n / 15000 - 1 / 3) < 0.08 for n in by_decade.values()), by_decade


def test_a_process_group_sums_buckets_exactly_and_keeps_those_of_exited_processes():
    states = []
    for seed in range(3):
        registry = MetricsRegistry()
        for value in random.Random(seed).sample(range(1, 10000), 500):
            registry.timer("lat")._update(value / 1000)
            registry.histogram("size").add(value)
        states.append(check_state(json.loads(json.dumps(snapshot(registry)))))
    archive = {}
    archive_part(states[2], archive)   # the third process exited
    archive = json.loads(json.dumps(archive))
    view = Merger().merge([("1", 0.0, states[0]), ("2", 0.0, states[1])], archive)
    whole = MetricsRegistry()
    for seed in range(3):
        for value in random.Random(seed).sample(range(1, 10000), 500):
            whole.timer("lat")._update(value / 1000)
            whole.histogram("size").add(value)
    for mode, label in (("vmrange", "vmrange"), ("le", "le")):
        merged, single = collect(view, mode), collect(whole, mode)
        for name in ("lat_bucket", "size_bucket"):
            assert buckets_of(merged, name, label) == buckets_of(single, name, label)
        sums = [{p["metric"]: p["value"] for p in got if p["metric"].endswith("_sum")}
                for got in (merged, single)]
        assert sums[0] == pytest.approx(sums[1])


def test_a_state_with_bad_buckets_is_refused():
    registry = MetricsRegistry()
    registry.timer("lat")._update(0.1)
    state = json.loads(json.dumps(snapshot(registry)))
    state["timer"]["lat"][-1] = [1, 2, 3]
    with pytest.raises(ValueError, match="bad timer section"):
        check_state(state)
    state["timer"]["lat"][-1] = ["1", 2]
    with pytest.raises(ValueError, match="bad timer section"):
        check_state(state)


def test_the_cardinality_guard_counts_a_bucketed_metric_once_and_folds_its_buckets():
    registry = MetricsRegistry()
    for route in range(5):
        registry.timer(encode_metric("lat", {"route": str(route)}))._update(0.01 * (route + 1))
    points = collect(registry, "vmrange", max_series_per_metric=3)
    kept = {p["tags"]["route"] for p in points if p["metric"] == "lat_bucket"
            and "route" in p["tags"]}
    assert len(kept) == 3   # three keys, each with all its buckets
    overflow = buckets_of([p for p in points if p["tags"].get("overflow") == "true"],
                          "lat_bucket", "vmrange")
    assert sum(overflow.values()) == 2   # the two folded keys' values


def test_the_option_and_its_environment_variable(monkeypatch):
    assert ApptuitReporter(histogram_buckets="LE", token="x").histogram_buckets == "le"
    monkeypatch.setenv("APPTUIT_HISTOGRAM_BUCKETS", "vmrange")
    assert ApptuitReporter(token="x").histogram_buckets == "vmrange"
    assert ApptuitReporter(token="x", histogram_buckets="off").histogram_buckets is None
    monkeypatch.setenv("APPTUIT_HISTOGRAM_BUCKETS", "buckets")
    with pytest.raises(ApptuitValueError, match="APPTUIT_HISTOGRAM_BUCKETS 'buckets'"):
        ApptuitReporter(token="x")
    with pytest.raises(ApptuitValueError, match="histogram_buckets 'log'"):
        ApptuitReporter(token="x", histogram_buckets="log")


def test_a_metric_with_no_room_for_the_bucket_tag_is_warned_once_and_sends_the_rest(caplog):
    registry = MetricsRegistry()
    tags = {"t%d" % i: "v" for i in range(24)}   # with host: 25, the most allowed
    registry.timer(encode_metric("lat", tags))._update(0.1)
    collector = Collector("", {"host": "h"}, get_sanitizer("prometheus"),
                          histogram_buckets="le")
    with caplog.at_level(logging.WARNING, logger="apptuit_like"):
        for stamp in (1, 2):
            points, invalid = collector.collect(registry, 1700000000 + stamp)
    names = {json.loads(p)["metric"] for p in points}
    assert "lat_count" in names and "lat_bucket" not in names and invalid == 0
    warned = [r for r in caplog.records if "sends no buckets" in r.getMessage()]
    assert len(warned) == 1 and "'lat'" in warned[0].getMessage()
