"""Behaviours checked side by side with apptuit 2.4.2: the same code runs against
both packages and real local servers. Where the two agree the test asserts it for
both; where ours differs on purpose (the README's "Differences from apptuit-py")
the test shows each package's answer.
"""
import importlib
import time

import pytest
import requests
from pyformance import MetricsRegistry

from servers import CutShortServer, Reply, UnansweredPort

PACKAGES = ["apptuit", "apptuit_like"]
NOW = int(time.time())


def package(name, suffix=""):
    return importlib.import_module(name + suffix)


def reporter(name, registry, endpoint):
    # apptuit 2.4.2's reporter hands retry_count to requests as the HTTP timeout,
    # where 0 fails every send: 5 makes it a 5 s timeout there, 5 retries here
    return package(name, ".pyformance").ApptuitReporter(
        registry=registry, token="t", api_endpoint=endpoint, tags={"a": "b"}, retry_count=5)


def client(name, endpoint, monkeypatch, **options):
    """A client of either package whose retries do not sleep (apptuit's backoff
    sleeps up to 15 s a try; ours follows its RetryPolicy)."""
    root = package(name)
    made = root.Apptuit(token="t", api_endpoint=endpoint, **options)
    if name == "apptuit":
        monkeypatch.setattr(root.Apptuit, "backoff_with_jitter", staticmethod(lambda n: None))
    else:
        made.retry_policy = made.retry_policy.__class__(backoff_factor=0.01)
    return made


@pytest.fixture
def unanswered():
    port = UnansweredPort()
    yield port
    port.stop()


@pytest.fixture
def cut_short():
    server = CutShortServer()
    yield server
    server.stop()


@pytest.mark.parametrize("name", PACKAGES)
def test_meta_counters_count_the_applications_points_only(name, fake):
    registry = MetricsRegistry()
    for i in range(10):
        registry.counter("c%d" % i).inc()
    made = reporter(name, registry, fake.endpoint)
    made.report_now()
    made.report_now()
    second = {p["metric"]: p["value"] for p in fake.requests[-1]["json"]}
    assert second["apptuit_reporter_send_total_count"] == 10
    assert second["apptuit_reporter_send_successful_count"] == 10


@pytest.mark.parametrize("name", PACKAGES)
def test_a_read_timeout_on_every_try_raises_requests_read_timeout(name, fake, monkeypatch):
    fake.default = Reply(200, {"outputs": []}, delay=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client(name, fake.endpoint, monkeypatch).query("q", start=NOW - 60, retry_count=3,
                                                       timeout=0.2)
    assert len(fake.requests) == 4
    with pytest.raises(requests.exceptions.ReadTimeout):
        client(name, fake.endpoint, monkeypatch).send(
            [package(name).DataPoint("m", {"a": "b"}, NOW, 1.0)], timeout=0.2)


@pytest.mark.parametrize("name", PACKAGES)
def test_a_connect_timeout_is_a_connect_timeout_and_a_connection_error(name, unanswered,
                                                                       monkeypatch):
    made = client(name, unanswered.endpoint, monkeypatch)
    with pytest.raises(requests.exceptions.ConnectTimeout) as raised:
        made.query("q", start=NOW - 60, retry_count=1, timeout=0.2)
    assert isinstance(raised.value, requests.exceptions.ConnectionError)
    with pytest.raises(requests.exceptions.ConnectTimeout):
        made.send([package(name).DataPoint("m", {"a": "b"}, NOW, 1.0)], timeout=0.2)


@pytest.mark.parametrize("name", PACKAGES)
def test_an_answer_cut_short_is_retried_and_raises_chunked_encoding_error(name, cut_short,
                                                                          monkeypatch):
    made = client(name, cut_short.endpoint, monkeypatch)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        made.query("q", start=NOW - 60, retry_count=3, timeout=5)
    assert cut_short.requests == 4
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        made.send([package(name).DataPoint("m", {"a": "b"}, NOW, 1.0)])


def test_ours_say_what_happened_and_stay_apptuit_exceptions(cut_short, unanswered,
                                                            monkeypatch):
    from apptuit_like import (ApptuitConnectionError, ApptuitQueryConnectionError,
                              ApptuitQueryTimeout, ApptuitTimeout)
    with pytest.raises(ApptuitQueryConnectionError, match="cut short"):
        client("apptuit_like", cut_short.endpoint, monkeypatch).query("q", start=NOW - 60)
    with pytest.raises(ApptuitQueryTimeout, match="timed out"):
        client("apptuit_like", unanswered.endpoint, monkeypatch).query(
            "q", start=NOW - 60, timeout=0.2)
    point = package("apptuit_like").DataPoint("m", {"a": "b"}, NOW, 1.0)
    with pytest.raises(ApptuitConnectionError, match="cut short"):
        client("apptuit_like", cut_short.endpoint, monkeypatch).send([point])
    with pytest.raises(ApptuitTimeout):
        client("apptuit_like", unanswered.endpoint, monkeypatch).send([point], timeout=0.2)


@pytest.mark.parametrize("name", PACKAGES)
@pytest.mark.parametrize("environ", [None, "", " "])
def test_reporter_tags_are_none_when_there_are_none(name, environ, monkeypatch):
    if environ is not None:
        monkeypatch.setenv("APPTUIT_TAGS", environ)
    reporter_class = package(name, ".pyformance").ApptuitReporter
    assert reporter_class(token="t", disable_host_tag=True).tags is None
    monkeypatch.setenv("APPTUIT_DISABLE_HOST_TAG", "true")
    assert reporter_class(token="t").tags is None


@pytest.mark.parametrize("name", PACKAGES)
def test_an_empty_name_sanitizes_to_itself(name):
    assert package(name, ".utils").sanitize_name_apptuit("") == ""


def test_an_empty_name_is_still_refused_where_a_point_is_made():
    from apptuit_like import DataPoint
    from apptuit_like.timeseries import encode_metric
    with pytest.raises(ValueError):
        DataPoint("", {"a": "b"}, NOW, 1.0)
    with pytest.raises(ValueError):
        encode_metric("", {"a": "b"})


# Differences kept on purpose, each shown against apptuit 2.4.2.

def sent_by(name, fake, send):
    send(package(name).Apptuit(token="t", api_endpoint=fake.endpoint))
    return fake.requests[-1]["json"]


@pytest.mark.parametrize("name, metric, tag", [("apptuit", "cpu.load", "a.b"),
                                               ("apptuit_like", "cpu_load", "a_b")])
def test_send_timeseries_sanitizes_like_send(name, metric, tag, fake):
    def send(made):
        series = package(name).TimeSeries("cpu.load", {"a.b": "x"})
        series.add_point(NOW, 1.0)
        made.send_timeseries([series])
    (point,) = sent_by(name, fake, send)
    assert (point["metric"], list(point["tags"])) == (metric, [tag])


@pytest.mark.parametrize("name, value", [("apptuit", 1), ("apptuit_like", "1")])
def test_integer_tag_values_go_out_as_strings(name, value, fake):
    (point,) = sent_by(name, fake, lambda made: made.send(
        [package(name).DataPoint("m", {"test": 1}, NOW, 1.0)]))
    assert point["tags"]["test"] == value


@pytest.mark.parametrize("name, status", [("apptuit", None), ("apptuit_like", 400)])
def test_a_partly_refused_report_now_says_400(name, status, fake):
    registry = MetricsRegistry()
    registry.counter("c").inc()
    made = reporter(name, registry, fake.endpoint)
    fake.default = Reply(400, {"success": 1, "failed": 1, "errors": [
        {"datapoint": "c.count", "error": "refused"}]})
    with pytest.raises(package(name).ApptuitSendException) as raised:
        made.report_now()
    assert raised.value.status_code == status


def test_non_dict_tags_are_refused_at_once_unlike_apptuit():
    import apptuit
    import apptuit_like
    apptuit.DataPoint("m", "error", NOW, 1.0)   # accepted; its send() fails later
    with pytest.raises(apptuit_like.ApptuitValueError, match="tags of 'm' must be a dict"):
        apptuit_like.DataPoint("m", "error", NOW, 1.0)


@pytest.mark.parametrize("name, encoding", [("apptuit", "deflate"), ("apptuit_like", "gzip")])
def test_bodies_are_gzip_here_and_deflate_there(name, encoding, fake):
    package(name).Apptuit(token="t", api_endpoint=fake.endpoint).send(
        [package(name).DataPoint("m", {"a": "b"}, NOW, 1.0)])
    assert fake.requests[-1]["headers"]["Content-Encoding"] == encoding


def test_no_token_is_needed_for_a_tsdb_of_ones_own(fake):
    import apptuit
    import apptuit_like
    with pytest.raises(ValueError, match="token"):
        apptuit.Apptuit(api_endpoint=fake.endpoint)
    apptuit_like.Apptuit(api_endpoint=fake.endpoint).send(
        [apptuit_like.DataPoint("m", {"a": "b"}, NOW, 1.0)])
    assert "Authorization" not in fake.requests[-1]["headers"]


def test_nan_as_text_is_refused_here_and_taken_there():
    import apptuit
    import apptuit_like
    assert apptuit.DataPoint("cpu", {"host": "a"}, NOW, "nan").value != 0   # NaN, kept
    with pytest.raises(ValueError, match="cpu"):
        apptuit_like.DataPoint("cpu", {"host": "a"}, NOW, "nan")


@pytest.mark.parametrize("name", PACKAGES)
def test_the_reporters_retry_count_of_zero(name, fake):
    registry = MetricsRegistry()
    registry.counter("c").inc()
    made = package(name, ".pyformance").ApptuitReporter(
        registry=registry, token="t", api_endpoint=fake.endpoint, tags={"a": "b"},
        retry_count=0)
    if name == "apptuit":   # handed to requests as the timeout: every send fails
        with pytest.raises(ValueError, match="timeout"):
            made.report_now()
    else:
        made.report_now()
        assert any(p["metric"] == "c_count" for p in fake.points())


@pytest.mark.parametrize("name", PACKAGES)
def test_a_refused_connection_and_the_error_handler(name, refused_endpoint):
    calls = []
    registry = MetricsRegistry()
    registry.counter("c").inc()
    made = package(name, ".pyformance").ApptuitReporter(
        registry=registry, token="t", api_endpoint=refused_endpoint, tags={"a": "b"},
        retry_count=1, error_handler=lambda *args: calls.append(args))
    with pytest.raises(requests.exceptions.ConnectionError):
        made.report_now()
    # apptuit's connection error passes its handler by; ours reports it (status None)
    assert [call[0] for call in calls] == ([] if name == "apptuit" else [None])


@pytest.mark.parametrize("name", PACKAGES)
def test_report_stamps(name, fake):
    registry = MetricsRegistry()
    registry.counter("c").inc()
    reporter(name, registry, fake.endpoint).report_now()
    after = time.time()
    (stamp,) = [p["timestamp"] for p in fake.points() if p["metric"] == "c_count"]
    if name == "apptuit":   # int(round(time.time())): whole seconds, up to 0.5 s ahead
        assert stamp < 1e10 and stamp <= after + 0.5
    else:                   # milliseconds from the clock, never ahead of it
        assert stamp > 1e12 and stamp <= after * 1000


def test_one_failed_point_is_one_point_here():
    import apptuit
    import apptuit_like
    errors = [{"datapoint": "cpu{host=a}", "error": "bad value"}]
    theirs = str(apptuit.ApptuitSendException("m", 400, 0, 1, errors))
    ours = str(apptuit_like.ApptuitSendException("m", 400, 0, 1, errors))
    assert theirs.startswith("1 points failed") and ours.startswith("1 point failed")
    assert ours.split("\n", 1)[1] == theirs.split("\n", 1)[1]
