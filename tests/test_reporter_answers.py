"""Reporter outcomes against scripted answers: handler, buffer, meta counts, loop."""
import logging
import socket
import threading

import pytest
from pyformance import MetricsRegistry
from pyformance.meters import CallbackGauge

from apptuit_like import ApptuitSendException, RetryPolicy
from apptuit_like.pyformance import ApptuitReporter, default_error_handler
from apptuit_like.pyformance import _error_handler as error_handler
from apptuit_like.testing import free_port
from servers import FakeApptuit, Reply

FAST = RetryPolicy(backoff_factor=0.01, backoff_max=0.02)


class Handler:
    """An error handler that records calls and lets tests wait for them."""

    def __init__(self):
        self.calls = []
        self.changed = threading.Condition()

    def __call__(self, status_code, successful, failed, errors):
        with self.changed:
            self.calls.append((status_code, successful, failed, errors))
            self.changed.notify_all()

    def wait_for(self, count, timeout=15):
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.calls) >= count, timeout), \
                "handler called %d times, expected %d" % (len(self.calls), count)


def make(endpoint, registry=None, **kwargs):
    kwargs.setdefault("retry_policy", FAST)
    return ApptuitReporter(registry=registry or MetricsRegistry(), api_endpoint=endpoint,
                           tags={"svc": "test"}, **kwargs)


def meta(reporter, name):
    return reporter._meta_metrics_registry.counter("apptuit.reporter." + name).get_count()


def meta_points(reporter):
    """Points of the reporter's own metrics in one report: sent from the first on."""
    return len(reporter._meta_collector.collect(reporter._meta_metrics_registry, 0)[0])


def test_refused_connection_reaches_the_error_handler(refused_endpoint):
    handler = Handler()
    reporter = make(refused_endpoint, error_handler=handler)
    reporter.registry.counter("c").inc()
    points = 1 + meta_points(reporter)
    with pytest.raises(ApptuitSendException) as info:
        reporter.report_now()
    (status, successful, failed, errors), = handler.calls
    assert status is None and successful == 0 and failed == points
    assert "refused" in errors[0]["error"].lower()
    assert info.value.failed == failed and info.value.status_code is None


def test_timeout_reaches_the_error_handler(fake):
    fake.default = Reply(204, delay=1.0)
    handler = Handler()
    reporter = make(fake.endpoint, error_handler=handler, timeout=0.2)
    reporter.registry.counter("c").inc()
    points = 1 + meta_points(reporter)
    with pytest.raises(ApptuitSendException):
        reporter.report_now()
    (status, _, failed, errors), = handler.calls
    assert status is None and failed == points
    assert "timed out" in errors[0]["error"]


def test_400_calls_handler_with_details_and_keeps_nothing(fake):
    details = {"success": 1, "failed": 1, "errors": [{"datapoint": "c", "error": "bad"}]}
    fake.script(Reply(400, details))
    handler = Handler()
    reporter = make(fake.endpoint, error_handler=handler)
    reporter.registry.counter("a").inc()
    reporter.registry.counter("b").inc()
    with pytest.raises(ApptuitSendException) as info:
        reporter.report_now()
    assert handler.calls == [(400, 1, 1, details["errors"])]
    assert (info.value.success, info.value.failed) == (1, 1)
    assert len(reporter._buffer) == 0
    reporter.report_now()
    resent = [p["metric"] for p in fake.requests[1]["json"]
              if not p["metric"].startswith("apptuit_reporter")]
    assert resent == ["a_count", "b_count"], "no old points, only new ones (and meta)"


@pytest.mark.parametrize("status", [401, 403, 404])
def test_other_4xx_keep_nothing(fake, status):
    fake.script(Reply(status))
    handler = Handler()
    reporter = make(fake.endpoint, error_handler=handler)
    reporter.registry.counter("a").inc()
    with pytest.raises(ApptuitSendException):
        reporter.report_now()
    assert handler.calls[0][0] == status and len(reporter._buffer) == 0


def test_one_handler_call_per_failed_batch(fake):
    fake.default = Reply(503)
    handler = Handler()
    reporter = make(fake.endpoint, error_handler=handler, batch_size=2)
    for i in range(5):
        reporter.registry.counter("c%d" % i).inc()
    total = 5 + meta_points(reporter)
    with pytest.raises(ApptuitSendException):
        reporter.report_now()
    assert [call[:3] for call in handler.calls] == (
        [(503, 0, 2)] * (total // 2) + [(503, 0, 1)] * (total % 2))
    assert len(fake.requests) == 1, "the server is down: the other batches wait"
    assert len(reporter._buffer) == total


def test_buffer_keeps_newest_and_counts_drops(refused_endpoint):
    reporter = make(refused_endpoint, error_handler=None, max_buffered_points=3)
    for i in range(2):
        reporter.registry.counter("c%d" % i).inc()
    for timestamp in (1700000000, 1700000010):
        with pytest.raises(ApptuitSendException):
            reporter.report_now(timestamp=timestamp)
    kept = reporter._buffer.drain()
    assert len(kept) == 3 and all("1700000010" in p for p in kept)
    # send.failed counts the application's points as apptuit-py does: 2 a cycle, and
    # cycle 2 re-sent the 3 kept from cycle 1 (its last points: its meta metrics)
    assert meta(reporter, "send.failed") == 2 + 2 + 3
    # the buffer saw every failed point, meta ones too: each cycle kept 3 (cycle 2
    # took cycle 1's out to re-send them) and dropped the rest
    assert meta(reporter, "points.dropped") == meta(reporter, "points.buffered") - 3 - 3 > 20


def test_outage_then_recovery_delivers_every_cycle_in_order():
    port = free_port()
    handler = Handler()
    registry = MetricsRegistry()
    counter = registry.counter("ticks")
    reporter = make("http://127.0.0.1:%d" % port, registry, error_handler=handler,
                    reporting_interval=1.0)
    registry.add("tick", CallbackGauge(lambda: counter.inc() or counter.get_count()))
    reporter.start()
    handler.wait_for(3)   # three cycles against a refused connection
    server = FakeApptuit(port)
    try:
        server.wait_for_requests(2)
        reporter.stop()
        stamps = [p["timestamp"] for p in server.points() if p["metric"] == "tick_value"]
        values = [p["value"] for p in server.points() if p["metric"] == "tick_value"]
    finally:
        server.stop()
    cycles = counter.get_count()
    assert cycles >= 5
    assert values == list(range(1, cycles + 1)), "every cycle once, oldest first"
    assert stamps == sorted(set(stamps)) and len(stamps) == cycles
    # buffered cycles keep their own time: one interval (in ms) apart, less jitter
    assert all(b - a >= 500 for a, b in zip(stamps, stamps[1:-1])), stamps
    assert all(call[0] is None for call in handler.calls)


def test_handler_errors_and_broken_metrics_never_kill_the_thread(fake):
    calls = []

    def bad_handler(*args):
        calls.append(args)
        raise RuntimeError("handler bug")

    class BrokenCounter:
        def get_count(self):
            raise RuntimeError("metric bug")

    registry = MetricsRegistry()
    registry._counters["broken"] = BrokenCounter()
    registry.counter("ok").inc()
    fake.script(Reply(500))
    reporter = make(fake.endpoint, registry, error_handler=bad_handler,
                    reporting_interval=0.1)
    reporter.start()
    fake.wait_for_requests(3)
    assert reporter.is_running
    reporter.stop()
    assert len(calls) == 1
    assert any(p["metric"] == "ok_count" for p in fake.points())


def test_thread_is_named_daemon_and_start_is_idempotent(fake):
    reporter = make(fake.endpoint, reporting_interval=3600)
    assert reporter.start() is True and reporter.start() is False
    threads = [t for t in threading.enumerate() if t.name.startswith("apptuit-reporter")]
    assert len(threads) == 1 and threads[0].daemon
    reporter.stop()
    assert not threads[0].is_alive()


def test_fixed_rate_does_not_drift_with_send_time(fake):
    fake.default = Reply(204, delay=0.15)
    reporter = make(fake.endpoint, reporting_interval=0.5)
    reporter.registry.counter("c").inc()
    reporter.start()
    fake.wait_for_requests(4)
    reporter.stop()
    arrivals = [r["at"] for r in fake.requests[:4]]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert all(abs(gap - 0.5) < 0.1 for gap in gaps), gaps


def test_tags_precedence_and_host_tag(fake, monkeypatch):
    monkeypatch.setenv("APPTUIT_TAGS", "env: staging, team: core, svc: env")
    registry = MetricsRegistry()
    registry.counter('c{"team": "metric"}').inc()
    reporter = make(fake.endpoint, registry)
    reporter.report_now()
    tags = fake.points()[0]["tags"]
    assert tags == {"env": "staging", "team": "metric", "svc": "test",
                    "host": socket.gethostname()}


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_host_tag_can_be_disabled(fake, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv("APPTUIT_DISABLE_HOST_TAG", "True")
    reporter = make(fake.endpoint, disable_host_tag=True if how == "argument" else None)
    assert "host" not in reporter.tags


def test_given_host_tag_is_kept(fake):
    reporter = ApptuitReporter(api_endpoint=fake.endpoint, tags={"host": "web-1"})
    assert reporter.tags["host"] == "web-1"


def test_retry_alias_and_retries(fake):
    fake.script(Reply(503), Reply(503))
    reporter = make(fake.endpoint, retry=2)
    assert reporter.retry_count == 2
    reporter.registry.counter("c").inc()
    reporter.report_now()
    assert len(fake.requests) == 3


def test_default_error_handler_is_rate_limited(caplog, monkeypatch):
    monkeypatch.setattr(error_handler, "_warn", error_handler.RateLimitedWarning(3600))
    caplog.set_level(logging.WARNING, logger="apptuit_like")
    for _ in range(5):
        default_error_handler(None, 0, 3, [{"datapoint": None, "error": "refused"}])
    assert len(caplog.records) == 1
    assert "3 of 3 points failed" in caplog.text and "refused" in caplog.text


def test_no_error_handler_is_silent(refused_endpoint, caplog):
    caplog.set_level(logging.WARNING, logger="apptuit_like")
    reporter = make(refused_endpoint, error_handler=None)
    reporter.registry.counter("c").inc()
    with pytest.raises(ApptuitSendException):
        reporter.report_now()
    assert caplog.records == []


def test_stats_count_sent_failed_and_invalid_points(fake):
    registry = MetricsRegistry()
    for i in range(10):
        registry.counter("orders%d" % i).inc(3)
    registry.gauge("broken", CallbackGauge(lambda: float("nan")))
    reporter = ApptuitReporter(registry=registry, api_endpoint=fake.endpoint,
                               tags={"env": "test"}, error_handler=None)
    assert reporter.stats() == {"sent": 0, "failed": 0, "invalid": 0, "buffered": 0,
                                "dropped": 0, "folded": 0}
    reporter.report_now()
    reporter.report_now()
    second = reporter.stats()
    assert second["sent"] == 20 and second["failed"] == 0, "the meta points are not counted"
    assert second["invalid"] == 2, "the NaN gauge is skipped and counted, each report"
    sent = len(fake.requests[-1]["json"])
    fake.script(Reply(400, {"success": sent - 5, "failed": 5, "errors": []}))
    with pytest.raises(ApptuitSendException):
        reporter.report_now()
    third = reporter.stats()
    assert third["failed"] == 5 and third["sent"] == 25
    assert third["buffered"] == 0, "nothing is kept after a 400"


def test_every_meta_metric_is_sent_from_the_first_report(fake):
    reporter = make(fake.endpoint)
    reporter.report_now()
    names = {p["metric"] for p in fake.points()}
    assert {"apptuit_reporter_send_total_count", "apptuit_reporter_send_successful_count",
            "apptuit_reporter_send_failed_count", "apptuit_reporter_points_invalid_count",
            "apptuit_reporter_points_buffered_count", "apptuit_reporter_points_dropped_count",
            "apptuit_reporter_send_time_count"} <= names


def test_a_failing_gauge_is_warned_about_once_by_its_key_and_counted(fake, caplog):
    registry = MetricsRegistry()

    def broken():
        raise RuntimeError("queue is gone")
    registry.gauge("queue_depth", CallbackGauge(broken))
    registry.counter("orders").inc()
    reporter = make(fake.endpoint, registry)
    with caplog.at_level(logging.WARNING, logger="apptuit_like"):
        reporter.report_now()
        reporter.report_now()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'queue_depth'" in warnings[0] and "queue is gone" in warnings[0]
    assert reporter.stats()["invalid"] == 2   # counted each cycle, as other bad values
    assert "orders_count" in {p["metric"] for p in fake.points()}
