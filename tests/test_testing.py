"""apptuit_like.testing: the helpers users' own test suites rely on."""
import os
import time

import pytest
import requests
from pyformance import MetricsRegistry
from pyformance.meters import CallbackGauge

from apptuit_like import Apptuit, DataPoint
from apptuit_like.testing import CaptureReporter, LocalVictoriaMetrics
from apptuit_like.timeseries import encode_metric


def handle_order(registry, city):
    registry.counter(encode_metric("order_count", {"city": city})).inc()


def test_capture_records_what_would_be_sent_and_counts_one_request():
    registry = MetricsRegistry()
    reporter = CaptureReporter(registry, tags={"service": "shop"})
    handle_order(registry, "BLR")
    reporter.report_now()
    before = reporter.value("order_count_count", city="BLR")
    handle_order(registry, "BLR")
    reporter.report_now()
    assert reporter.value("order_count_count", city="BLR") - before == 1
    point = reporter.points[-1]
    assert set(point) == {"metric", "tags", "timestamp", "value"}
    assert "host" not in point["tags"] and point["tags"]["service"] == "shop"


def test_capture_says_what_exists_when_nothing_matches_and_refuses_ambiguity():
    registry = MetricsRegistry()
    reporter = CaptureReporter(registry)
    with pytest.raises(KeyError, match="nothing reported yet"):
        reporter.value("order_count_count")
    for city in ("BLR", "DEL"):
        handle_order(registry, city)
    reporter.report_now()
    with pytest.raises(ValueError, match="2 series"):
        reporter.value("order_count_count")
    with pytest.raises(KeyError, match="order_count_count"):
        reporter.value("orders", city="BLR")
    assert reporter.value("order_count_count", city="PNQ", default=0) == 0
    reporter.clear()
    assert reporter.points == []


def test_capture_counts_bad_values_like_the_real_reporter():
    registry = MetricsRegistry()
    registry.add("broken", CallbackGauge(lambda: 1 / 0))
    reporter = CaptureReporter(registry, tags={"service": "shop"})
    reporter.report_now()
    assert reporter.stats()["invalid"] == 1


def test_local_victoria_metrics_starts_stores_and_cleans_up():
    with LocalVictoriaMetrics() as vm:
        client = Apptuit(api_endpoint=vm.put_endpoint, query_endpoint=vm.query_url)
        client.send([DataPoint("helper.check", {"t": "x"}, int(time.time()), 4.0)])
        vm.flush()
        exported = requests.get(vm.query_url + "/api/v1/export",   # sanitized name
                                params={"match[]": "helper_check"}, timeout=10).text
        assert '"values":[4]' in exported
        data_dir = vm.data_dir
    assert not os.path.exists(data_dir)


def test_export_reads_back_a_fresh_millisecond_point_every_time(vm, uid):
    """VictoriaMetrics' /api/v1/export ends by default at the current whole second,
    which hides a point stamped in milliseconds within it; export() must not."""
    from apptuit_like.pyformance import ApptuitReporter
    registry = MetricsRegistry()
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               tags={"test": uid}, disable_host_tag=True)
    counter = registry.counter(encode_metric(uid, {"city": "BLR"}))
    for round_ in range(1, 11):
        counter.inc()
        reporter.report_now()
        (series,) = vm.export('%s_count{test="%s"}' % (uid, uid))
        assert series["values"][-1] == round_
