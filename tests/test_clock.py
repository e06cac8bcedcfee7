"""Timestamps: the reporter's stamps never run ahead of the clock and always rise;
the client sends seconds and milliseconds as the backend's precision allows."""
import time

import pytest
from pyformance import MetricsRegistry

from apptuit_like import Apptuit, ApptuitValueError, DataPoint
from apptuit_like._config import read_precision
from apptuit_like.pyformance import ApptuitReporter
from apptuit_like.pyformance._clock import next_stamp, now_ms


def test_a_stamp_not_later_than_the_last_waits_for_the_clock():
    last = now_ms() + 40   # as if the previous send was stamped 40 ms from now
    stamp = next_stamp(last)
    assert stamp > last
    assert stamp <= now_ms()   # it waited instead of stamping ahead


def test_seconds_precision_stamps_whole_seconds_and_waits_for_the_next_one():
    first = next_stamp(0, 1000)
    second = next_stamp(first, 1000)
    assert first % 1000 == second % 1000 == 0
    assert second == first + 1000 and second <= now_ms()


def test_a_clock_that_went_back_keeps_the_order_without_a_long_wait():
    last = now_ms() + 10_000
    started = time.monotonic()
    assert next_stamp(last) == last + 1
    assert time.monotonic() - started < 1.0   # not the 10 s the clock is behind


def test_a_deadline_too_close_to_wait_for_keeps_the_order():
    last = now_ms() + 500
    started = time.monotonic()
    assert next_stamp(last, 1, deadline=time.monotonic() + 0.01) == last + 1
    assert time.monotonic() - started < 0.4   # not the 0.5 s the clock is behind


def test_precision_by_endpoint_setting_and_environment(monkeypatch):
    assert read_precision(None, "https://api.apptuit.ai") == "s"
    assert read_precision(None, "http://127.0.0.1:4242") == "ms"
    assert read_precision("s", "http://127.0.0.1:4242") == "s"
    monkeypatch.setenv("APPTUIT_TIMESTAMP_PRECISION", "S")
    assert read_precision(None, "http://127.0.0.1:4242") == "s"
    monkeypatch.setenv("APPTUIT_TIMESTAMP_PRECISION", "us")
    with pytest.raises(ApptuitValueError, match="APPTUIT_TIMESTAMP_PRECISION 'us'"):
        read_precision(None, "http://127.0.0.1:4242")
    with pytest.raises(ApptuitValueError, match="timestamp_precision 'ns'"):
        Apptuit(api_endpoint="http://127.0.0.1:4242", timestamp_precision="ns")


@pytest.mark.parametrize("precision, sent", [
    ("ms", [1700000000, 1700000000250, 1700000000123]),
    ("s", [1700000000, 1700000000, 1700000000]),
])
def test_the_client_sends_seconds_fractions_and_milliseconds_by_precision(fake, precision,
                                                                         sent):
    client = Apptuit(api_endpoint=fake.endpoint, timestamp_precision=precision)
    client.send([DataPoint("m", {"a": "b"}, stamp, 1.0)
                 for stamp in (1700000000, 1700000000.25, 1700000000123)])
    assert [p["timestamp"] for p in fake.points()] == sent


def test_a_seconds_backend_gets_distinct_whole_seconds_never_ahead(fake):
    registry = MetricsRegistry()
    registry.counter("c").inc()
    reporter = ApptuitReporter(registry=registry, api_endpoint=fake.endpoint,
                               tags={"a": "b"}, timestamp_precision="s")
    reporter.report_now()
    reporter.report_now()   # within the same second: waits for the next one
    after = time.time()
    stamps = [p["timestamp"] for p in fake.points() if p["metric"] == "c_count"]
    assert len(stamps) == 2 and stamps[1] == stamps[0] + 1 <= after


def test_report_now_with_a_timestamp_sends_it_as_given(fake):
    registry = MetricsRegistry()
    registry.counter("c").inc()
    reporter = ApptuitReporter(registry=registry, api_endpoint=fake.endpoint, tags={"a": "b"})
    reporter.report_now(timestamp=1700000000)
    reporter.report_now(timestamp=1700000000.5)
    stamps = [p["timestamp"] for p in fake.points() if p["metric"] == "c_count"]
    assert stamps == [1700000000000, 1700000000500]
