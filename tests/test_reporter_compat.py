"""Series names, tags and values are those apptuit-py 2.4.2 produces for the same registry."""
import math
import time

from apptuit import Apptuit as ReferenceClient
from apptuit.pyformance.apptuit_reporter import ApptuitReporter as ReferenceReporter
from pyformance import MetricsRegistry
from pyformance.meters import CallbackGauge

from apptuit_like.pyformance import ApptuitReporter
from apptuit_like.timeseries import encode_metric


class FixedClock:
    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


def build_registry(clock):
    registry = MetricsRegistry(clock=clock)
    for city in ("ber", "par", "São Paulo"):
        registry.counter(encode_metric("order.count", {"city": city})).inc(len(city))
    meter = registry.meter(encode_metric("requests", {"route": "/api/v1"}))
    timer = registry.timer("order.processing-time")
    histogram = registry.histogram(encode_metric("order.size", {"unit": "items"}))
    for i in range(20):
        meter.mark()
        timer._update(0.01 * (i + 1))
        histogram.add(i * 3)
    clock.now += 7
    registry.histogram("empty.hist")
    registry.add("queue.depth", CallbackGauge(lambda: 12))
    registry.gauge("temperature").set_value(21.5)
    return registry


def reference_series(registry, prefix, tags):
    reporter = ReferenceReporter(registry=registry, token="x", api_endpoint="http://x:1",
                                 prefix=prefix, tags=dict(tags), disable_host_tag=True)
    sanitize = ReferenceClient(token="x", api_endpoint="http://x:1").sanitizer
    out = {}
    for point in reporter._collect_data_points(registry, 1700000000):
        tags = {sanitize(k): str(v) for k, v in point.tags.items()}
        out[(sanitize(point.metric), tuple(sorted(tags.items())))] = point.value
    return out


def our_series(fake, registry, prefix, tags):
    reporter = ApptuitReporter(registry=registry, api_endpoint=fake.endpoint, prefix=prefix,
                               tags=dict(tags), disable_host_tag=True)
    reporter.report_now(timestamp=1700000000)
    return {(p["metric"], tuple(sorted(p["tags"].items()))): p["value"]
            for p in fake.points() if "apptuit_reporter_" not in p["metric"]}


def test_same_series_and_values_as_apptuit_2_4_2(fake):
    clock = FixedClock(1700000000.0)
    registry = build_registry(clock)
    theirs = reference_series(registry, "shop.", {"env": "dev", "city": "global"})
    ours = our_series(fake, registry, "shop.", {"env": "dev", "city": "global"})
    sentinels = {key for key, value in theirs.items() if abs(value) == 2147483647.0}
    assert {key[0] for key in sentinels} == {"shop_empty_hist_max", "shop_empty_hist_min"}
    assert set(ours) == set(theirs) - sentinels
    for key, value in ours.items():
        assert math.isclose(value, theirs[key], rel_tol=1e-12), key
    assert ours[("shop_order_count_count", (("city", "São Paulo"), ("env", "dev")))] == 9
    assert ours[("shop_order_processing_time_99_percentile", (("city", "global"),
                                                             ("env", "dev")))] == 0.2


def test_field_sets_per_metric_type(fake):
    registry = build_registry(FixedClock(time.time()))
    names = {name for name, _ in our_series(fake, registry, "", {"env": "dev"})}
    timer_fields = {n[len("order_processing_time_"):] for n in names
                    if n.startswith("order_processing_time_")}
    assert timer_fields == {"avg", "sum", "count", "max", "min", "std_dev", "15m_rate",
                            "5m_rate", "1m_rate", "mean_rate", "50_percentile",
                            "75_percentile", "95_percentile", "99_percentile",
                            "999_percentile"}
    assert {n for n in names if n.startswith("requests_")} == {
        "requests_count", "requests_15m_rate", "requests_5m_rate", "requests_1m_rate",
        "requests_mean_rate"}
    assert {n for n in names if n.startswith("empty_hist")} == {
        "empty_hist_avg", "empty_hist_count", "empty_hist_std_dev",
        "empty_hist_75_percentile", "empty_hist_95_percentile", "empty_hist_99_percentile",
        "empty_hist_999_percentile"}
    assert {"queue_depth_value", "temperature_value", "order_count_count"} <= names


def test_registry_changes_between_cycles_match_apptuit(fake):
    """Added, replaced and removed keys after the collector cached its view."""
    clock = FixedClock(1700000000.0)
    registry = build_registry(clock)
    reporter = ApptuitReporter(registry=registry, api_endpoint=fake.endpoint,
                               tags={"env": "dev"}, disable_host_tag=True)
    reporter.report_now(timestamp=1700000000)
    registry.counter(encode_metric("order.count", {"city": "oslo"})).inc(40)
    replaced = encode_metric("order.count", {"city": "par"})
    registry._counters[replaced] = type(registry._counters[replaced])()
    registry._counters[replaced].inc(5)
    del registry._counters[encode_metric("order.count", {"city": "ber"})]
    registry.counter(encode_metric("order.count", {"city": "ber", "shift": "night"})).inc(2)
    fake.requests.clear()
    reporter.report_now(timestamp=1700000060)
    ours = {(p["metric"], tuple(sorted(p["tags"].items()))): p["value"]
            for p in fake.points() if not p["metric"].startswith("apptuit_reporter")}
    theirs = reference_series(registry, "", {"env": "dev"})
    sentinels = {key for key, value in theirs.items() if abs(value) == 2147483647.0}
    assert set(ours) == set(theirs) - sentinels
    counts = {dict(tags).get("city") + dict(tags).get("shift", ""): value
              for (name, tags), value in ours.items() if name == "order_count_count"}
    assert counts == {"oslo": 40, "par": 5, "bernight": 2, "São Paulo": 9}
