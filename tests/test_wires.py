"""Every wire against real receivers: the reporter's metric types read back
exactly as the OpenTSDB wire stores them, refusals reaching the error handler,
outages and restarts losing nothing within the buffer.

Prometheus and InfluxDB run from their Debian packages (tests/receivers.py);
VictoriaMetrics takes remote write and line protocol on its HTTP port.
"""
import threading
import time

import pytest
from pyformance import MetricsRegistry
from pyformance.meters import SimpleGauge

from apptuit_like import Apptuit, ApptuitSendException, DataPoint
from apptuit_like.pyformance import ApptuitReporter
from apptuit_like.timeseries import encode_metric
from receivers import LocalInfluxDB, LocalPrometheus, start


class FixedClock:
    """A clock that stands still: rates and percentiles read the same each time."""

    def __init__(self, now):
        self.now = now

    def time(self):
        return self.now


@pytest.fixture(scope="module")
def prometheus():
    server = start(LocalPrometheus)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def influx():
    server = start(LocalInfluxDB)
    yield server
    server.stop()


def filled_registry(uid):
    """One metric of each type, two tag sets for the counter, values fixed."""
    clock = FixedClock(time.time() - 30)
    registry = MetricsRegistry(clock=clock)
    for city, count in (("ber", 3), ("blr", 5)):
        registry.counter(encode_metric(uid + ".orders", {"city": city})).inc(count)
    hist = registry.histogram(encode_metric(uid + ".size", {"route": "/a"}))
    timer = registry.timer(encode_metric(uid + ".latency", {"route": "/a"}))
    meter = registry.meter(encode_metric(uid + ".hits", {"route": "/a"}))
    for i in range(40):
        hist.add(i * 1.5)
        timer._update(0.001 * (i + 1))
        meter.mark(2)
    registry.gauge(encode_metric(uid + ".depth", {"queue": "q"}), SimpleGauge(7.25))
    clock.now += 30
    return registry


def report(registry, endpoint, uid, stamp, **options):
    reporter = ApptuitReporter(registry=registry, api_endpoint=endpoint,
                               tags={"test": uid}, disable_host_tag=True, **options)
    reporter.report_now(timestamp=stamp)
    return reporter


def vm_reference(vm, uid, stamp):
    """What the OpenTSDB wire stores for the filled registry: {(name, tags): value}.
    VictoriaMetrics keeps 12 significant digits; Prometheus and InfluxDB keep every
    bit: compare those with ``approx``."""
    report(filled_registry(uid), vm.put_endpoint, uid, stamp)
    return {key: points[-1][1] for key, points in
            vm.series('{__name__=~"%s_.*", test="%s"}' % (uid, uid)).items()}


def test_remote_write_to_prometheus_stores_what_the_opentsdb_wire_stores(vm, prometheus,
                                                                          uid):
    stamp = int(time.time()) - 5
    expected = vm_reference(vm, uid, stamp)
    report(filled_registry(uid), prometheus.write_url, uid, stamp, wire="remote_write")
    stored = prometheus.series('{__name__=~"%s_.*"}' % uid)
    assert {key: points[-1][1] for key, points in stored.items()} == pytest.approx(
        expected, rel=1e-11)
    assert {points[-1][0] for points in stored.values()} == {stamp * 1000}
    assert len(expected) == 2 + 9 + 15 + 5 + 1   # counters, histogram, timer, meter, gauge


def test_remote_write_to_victoriametrics_stores_the_same_series(vm, uid):
    stamp = int(time.time()) - 5
    expected = vm_reference(vm, uid, stamp)
    other = uid + "rw"
    report(filled_registry(other), vm.query_url + "/api/v1/write", other, stamp,
           wire="remote_write")
    stored = {(name.replace(other, uid, 1), tuple((k, uid if v == other else v)
                                                   for k, v in tags)): points[-1][1]
              for (name, tags), points in vm.series(
                  '{__name__=~"%s_.*", test="%s"}' % (other, other)).items()}
    assert stored == expected


def test_influx_lines_reach_victoriametrics_under_the_opentsdb_names(vm, uid):
    stamp = int(time.time()) - 5
    expected = vm_reference(vm, uid, stamp)
    other = uid + "lp"
    report(filled_registry(other), vm.query_url, other, stamp, wire="influx")
    stored = {(name.replace(other, uid, 1), tuple((k, uid if v == other else v)
                                                   for k, v in tags)): points[-1][1]
              for (name, tags), points in vm.series(
                  '{__name__=~"%s_.*", test="%s"}' % (other, other)).items()}
    assert stored == expected


def test_influx_to_influxdb_writes_one_row_per_key_with_its_fields(vm, influx, uid):
    stamp = int(time.time()) - 5
    expected = vm_reference(vm, uid, stamp)
    report(filled_registry(uid), influx.url, uid, stamp, wire="influx",
           influx_database=influx.database)
    rows = influx.rows(uid + "_latency")
    assert len(rows) == 1 and rows[0]["time"] == stamp * 1000
    assert rows[0]["route"] == "/a" and rows[0]["test"] == uid
    fields = {k: v for k, v in rows[0].items() if k not in ("time", "route", "test")}
    assert {uid + "_latency_" + k: v for k, v in fields.items()} == pytest.approx({
        name: value for (name, tags), value in expected.items()
        if name.startswith(uid + "_latency_")}, rel=1e-11)
    counts = {row["city"]: row["count"] for row in influx.rows(uid + "_orders")}
    assert counts == {"ber": 3, "blr": 5}


class Handler:
    """An error handler that records its calls and lets a test wait for one."""

    def __init__(self):
        self.calls = []
        self.called = threading.Event()

    def __call__(self, status, successful, failed, errors):
        self.calls.append((status, successful, failed, errors))
        self.called.set()


def test_a_refused_cycle_reaches_the_error_handler_in_prometheus_own_words(prometheus,
                                                                          uid):
    later = int(time.time()) + 30   # a sample newer than the reporter's next stamp
    Apptuit(api_endpoint=prometheus.write_url, wire="remote_write").send(
        [DataPoint(uid + ".jobs.count", {"test": uid}, later, 1.0)])
    registry = MetricsRegistry()
    registry.counter(encode_metric(uid + ".jobs", {})).inc()
    handler = Handler()
    reporter = ApptuitReporter(registry=registry, api_endpoint=prometheus.write_url,
                               wire="remote_write", tags={"test": uid},
                               disable_host_tag=True, error_handler=handler)
    reporter._cycle()
    status, _, failed, errors = handler.calls[0]
    assert status == 400 and failed >= 1 and "out of order" in str(errors)


def test_an_out_of_order_sample_is_refused_with_prometheus_own_words(prometheus, uid):
    client = Apptuit(api_endpoint=prometheus.write_url, wire="remote_write")
    now = int(time.time())
    client.send([DataPoint(uid, {"a": "b"}, now, 1.0)])
    with pytest.raises(ApptuitSendException) as caught:
        client.send([DataPoint(uid, {"a": "b"}, now - 60, 2.0)])
    assert caught.value.status_code == 400
    assert "out of order" in str(caught.value)
    assert prometheus.series(uid)[(uid, (("a", "b"),))] == [(now * 1000, 1.0)]


def test_a_field_type_conflict_reaches_the_error_handler_and_nothing_else_is_lost(
        influx, uid):
    now = int(time.time() * 1000)
    import requests
    requests.post(influx.url + "/write", params={"db": influx.database, "precision": "ms"},
                  data="%s_orders,test=%s count=1i %d" % (uid, uid, now - 5000),
                  timeout=10).raise_for_status()
    registry = MetricsRegistry()
    registry.counter(encode_metric(uid + ".orders", {})).inc(4)
    handler = Handler()
    reporter = ApptuitReporter(registry=registry, api_endpoint=influx.url, wire="influx",
                               influx_database=influx.database, tags={"test": uid},
                               disable_host_tag=True, error_handler=handler)
    reporter._cycle()
    status, _, failed, errors = handler.calls[0]
    assert status == 400 and failed >= 1
    assert "conflict" in str(errors)


@pytest.mark.parametrize("receiver", [LocalPrometheus, LocalInfluxDB])
def test_an_outage_and_a_restart_lose_nothing_within_the_buffer(receiver, uid):
    server = start(receiver)
    try:
        options = ({"wire": "remote_write"} if receiver is LocalPrometheus else
                   {"wire": "influx", "influx_database": server.database})
        endpoint = server.write_url if receiver is LocalPrometheus else server.url
        registry = MetricsRegistry()
        cycles = registry.counter(encode_metric(uid + ".cycles", {}))
        handler = Handler()
        reporter = ApptuitReporter(registry=registry, api_endpoint=endpoint,
                                   tags={"test": uid}, disable_host_tag=True,
                                   error_handler=handler, timeout=2, **options)
        stamps = []
        for phase in ("up", "down", "down", "up"):
            if phase == "down" and server.process.poll() is None:
                server.kill()
            if phase == "up" and server.process.poll() is not None:
                server.start_again()
            cycles.inc()
            reporter._cycle()
            stamps.append(reporter._last_stamp)
        assert len(handler.calls) == 2   # the two cycles of the outage
        if receiver is LocalPrometheus:
            stored = server.series(uid + "_cycles_count")
            points = list(stored.values())[0]
        else:
            points = [(row["time"], row["count"]) for row in server.rows(uid + "_cycles")]
        assert points == [(stamp, float(n)) for n, stamp in enumerate(stamps, 1)]
    finally:
        server.stop()


@pytest.mark.parametrize("wire, path", [("remote_write", "/api/v1/write"), ("influx", "")])
def test_a_process_group_sends_one_set_of_series_over_each_wire(vm, tmp_path, uid, wire,
                                                                 path):
    from test_multiprocess import in_child, wait_ok
    registry = MetricsRegistry()
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.query_url + path,
                               wire=wire, tags={"test": uid}, disable_host_tag=True,
                               multiprocess_dir=str(tmp_path), reporting_interval=3600,
                               error_handler=None)
    reporter.start()
    registry.counter(encode_metric(uid + ".orders", {"city": "ber"})).inc(5)

    def child():
        registry.counter(encode_metric(uid + ".orders", {"city": "ber"})).inc(3)
        reporter.stop()
    wait_ok(in_child(child))
    registry.counter(encode_metric(uid + ".orders", {"city": "ber"})).inc(1)
    reporter.stop()
    stored = vm.series('%s_orders_count{test="%s"}' % (uid, uid))
    assert list(stored) == [(uid + "_orders_count", (("city", "ber"), ("test", uid)))]
    assert list(stored.values())[0][-1][1] == 9
