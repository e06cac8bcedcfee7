"""The client against Apptuit's own answers, played by a local HTTP server."""
import gzip
import json
import logging
import time
import zlib

import pytest
import requests

import apptuit_like
from apptuit_like import (Apptuit, ApptuitAuthError, ApptuitConnectionError, ApptuitException,
                          ApptuitSendException, ApptuitTimeout, DataPoint, RetryPolicy,
                          TimeSeries)
from servers import Reply

TOKEN = "tok-SECRET-9f8e7d"
FAST = RetryPolicy(backoff_factor=0.01, backoff_max=0.02)


def points(count, name="m", start=1700000000):
    return [DataPoint(name, {"i": str(i)}, start + i, float(i)) for i in range(count)]


def client_for(fake, **kwargs):
    kwargs.setdefault("retry_policy", FAST)
    return Apptuit(token=TOKEN, api_endpoint=fake.endpoint, **kwargs)


def test_wire_format_headers_and_one_connection(fake):
    client = client_for(fake)
    client.send(points(2))
    client.send(points(1))
    first, second = fake.requests
    assert first["method"] == "POST" and first["path"] == "/api/put?details"
    headers = first["headers"]
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Bearer " + TOKEN
    assert headers["User-Agent"].startswith("apptuit-like/" + apptuit_like.__version__)
    assert json.loads(gzip.decompress(first["raw"])) == [
        {"metric": "m", "tags": {"i": "0"}, "timestamp": 1700000000, "value": 0.0},
        {"metric": "m", "tags": {"i": "1"}, "timestamp": 1700000001, "value": 1.0}]
    assert first["client_port"] == second["client_port"], "the session reuses its connection"


def test_deflate_none_and_path_prefix(fake):
    Apptuit(api_endpoint=fake.endpoint + "/insert/0/opentsdb/", compression="deflate",
            retry_policy=FAST).send(points(1))
    Apptuit(api_endpoint=fake.endpoint, compression=None).send(points(1))
    deflated, plain = fake.requests
    assert deflated["path"] == "/insert/0/opentsdb/api/put?details"
    assert json.loads(zlib.decompress(deflated["raw"]))[0]["metric"] == "m"
    assert "Content-Encoding" not in plain["headers"] and json.loads(plain["raw"])[0]["value"] == 0
    assert "Authorization" not in plain["headers"]


def test_batches_never_exceed_batch_size(fake):
    client_for(fake, batch_size=4).send_timeseries(
        [TimeSeries("m", {"a": "b"}, list(range(1700000000, 1700000010)), [1.0] * 10)])
    assert [len(r["json"]) for r in fake.requests] == [4, 4, 2]
    assert [p["timestamp"] for p in fake.points()] == list(range(1700000000, 1700000010))


def test_400_raises_with_server_details(fake):
    errors = [{"datapoint": "m{i:1}", "error": "Unknown metric"},
              {"datapoint": "m{i:2}", "error": "Value out of range"}]
    fake.script(Reply(400, {"success": 1, "failed": 2, "errors": errors}))
    with pytest.raises(ApptuitSendException) as info:
        client_for(fake).send(points(3), retry_count=3)
    err = info.value
    assert (err.status_code, err.success, err.failed, err.errors) == (400, 1, 2, errors)
    assert len(fake.requests) == 1, "a 400 is final"
    text = str(err)
    assert "2 points failed with status: 400" in text
    assert "Unknown metric error occurred in the datapoint m{i:1}" in text
    assert "Value out of range" in text


def test_400_without_json_still_explains(fake):
    fake.script(Reply(400, "cannot parse JSON"))
    with pytest.raises(ApptuitSendException) as info:
        client_for(fake).send(points(2))
    assert info.value.status_code == 400 and info.value.failed == 2
    assert "cannot parse JSON" in str(info.value)


def test_400_in_one_batch_does_not_stop_the_others(fake):
    fake.script(Reply(400, {"success": 0, "failed": 2, "errors": []}))
    with pytest.raises(ApptuitSendException) as info:
        client_for(fake, batch_size=2).send(points(5))
    assert len(fake.requests) == 3
    assert (info.value.success, info.value.failed) == (3, 2)


@pytest.mark.parametrize("status", [401, 403])
def test_bad_token_raises_at_once_without_retry(fake, status):
    fake.script(Reply(status, "denied"))
    with pytest.raises(ApptuitAuthError) as info:
        client_for(fake, batch_size=1).send(points(3), retry_count=5)
    assert len(fake.requests) == 1
    assert info.value.status_code == status and info.value.failed == 3
    assert "token" in str(info.value) and TOKEN not in str(info.value)


def test_413_halves_until_parts_fit(fake):
    fake.script(Reply(413), Reply(413), Reply(204), Reply(204), Reply(204))
    client_for(fake).send(points(8))
    assert [len(r["json"]) for r in fake.requests] == [8, 4, 2, 2, 4]
    assert sorted(p["value"] for p in fake.requests[2]["json"] + fake.requests[3]["json"]
                  + fake.requests[4]["json"]) == [float(i) for i in range(8)]


def test_413_for_a_single_point_raises(fake):
    fake.default = Reply(413)
    with pytest.raises(ApptuitSendException) as info:
        client_for(fake).send(points(2))
    assert info.value.status_code == 413 and info.value.failed == 2
    assert [len(r["json"]) for r in fake.requests] == [2, 1, 1]


def test_5xx_then_success_is_retried(fake):
    fake.script(Reply(503), Reply(500))
    client_for(fake).send(points(2), retry_count=2)
    assert len(fake.requests) == 3
    assert fake.requests[0]["json"] == fake.requests[2]["json"]


def test_5xx_past_retry_count_raises(fake):
    fake.default = Reply(502, "bad gateway")
    with pytest.raises(ApptuitSendException) as info:
        client_for(fake).send(points(2), retry_count=1)
    assert len(fake.requests) == 2 and info.value.status_code == 502
    assert "bad gateway" in str(info.value)


def test_429_honours_retry_after(fake):
    fake.script(Reply(429, headers={"Retry-After": "1"}))
    client_for(fake).send(points(1), retry_count=1)
    first, second = fake.requests
    assert second["at"] - first["at"] >= 0.95


def test_answer_slower_than_timeout_raises_timeout(fake):
    fake.default = Reply(204, delay=1.0)
    started = time.monotonic()
    with pytest.raises(ApptuitTimeout) as info:
        client_for(fake).send(points(1), timeout=0.2, retry_count=1)
    # two tries of 0.2 s and a backoff under 0.5 s; waiting for the answers takes 2 s
    assert time.monotonic() - started < 1.8
    assert info.value.status_code is None and info.value.failed == 1
    assert isinstance(info.value, requests.exceptions.Timeout)
    assert len(fake.requests) == 2


def test_refused_connection_raises_connection_error(refused_endpoint):
    client = Apptuit(api_endpoint=refused_endpoint, retry_policy=FAST)
    with pytest.raises(ApptuitConnectionError) as info:
        client.send(points(3), retry_count=2)
    err = info.value
    assert isinstance(err, requests.exceptions.ConnectionError)
    assert isinstance(err, ApptuitException)
    assert err.status_code is None and err.failed == 3
    assert "refused" in str(err).lower()


@pytest.mark.parametrize("point, fragment", [
    (DataPoint("cpu", {"host": "a"}, 1700000000, float("nan")), "nan"),
    (DataPoint("cpu", {"host": "a"}, 1700000000, float("inf")), "inf"),
    (DataPoint("cpu", {"host": "a"}, 17000000000000000, 1.0), "17000000000000000"),
    (DataPoint("cpu", {"host": "a"}, "1700000000", 1.0), "'1700000000'"),
    (DataPoint("cpu", {}, 1700000000, 1.0), "No tags"),
    (DataPoint("cpu", {"t%d" % i: "v" for i in range(26)}, 1700000000, 1.0), "Too many tags"),
    (DataPoint("cpu", {"host": None}, 1700000000, 1.0), "'host'"),
])
def test_bad_points_fail_before_anything_is_sent(fake, point, fragment):
    good = points(3, name="good")
    with pytest.raises(ValueError) as info:
        client_for(fake).send(good + [point])
    assert fragment in str(info.value) and "cpu" in str(info.value)
    assert isinstance(info.value, ApptuitException)
    assert fake.requests == []


def test_bad_value_in_a_series_names_the_series(fake):
    series = TimeSeries("disk.used", {"mount": "/"}, [1700000000, 1700000001], [1.0, "x"])
    with pytest.raises(ValueError, match=r"disk\.used\{mount=/\}"):
        client_for(fake).send_timeseries([series])
    assert fake.requests == []


def test_invalid_name_with_sanitize_off_is_refused(fake):
    with pytest.raises(ValueError, match="cpu load"):
        client_for(fake, sanitize_mode=None).send(
            [DataPoint("cpu load", {"host": "a"}, 1700000000, 1.0)])
    with pytest.raises(ValueError, match="tag key"):
        client_for(fake, sanitize_mode=None).send_timeseries(
            [TimeSeries("cpu", {"tag key": "a"}, [1700000000], [1.0])])
    assert fake.requests == []


def test_25_tags_after_merge_is_the_limit(fake):
    client = client_for(fake, global_tags={"g%d" % i: "v" for i in range(20)})
    client.send([DataPoint("m", {"p%d" % i: "v" for i in range(5)}, 1700000000, 1.0)])
    with pytest.raises(ValueError, match="26"):
        client.send([DataPoint("m", {"p%d" % i: "v" for i in range(6)}, 1700000000, 1.0)])
    assert len(fake.requests) == 1


def test_token_never_in_repr_logs_or_errors(fake, caplog):
    caplog.set_level(logging.DEBUG, logger="apptuit_like")
    client = client_for(fake)
    fake.default = Reply(503, "down")
    with pytest.raises(ApptuitSendException) as info:
        client.send(points(1), retry_count=2)
    texts = [repr(client), repr(client.transport), str(info.value), repr(info.value),
             caplog.text]
    assert caplog.records, "retries are logged at debug level"
    assert all(TOKEN not in text for text in texts)


def test_disabled_sends_nothing(fake, monkeypatch):
    monkeypatch.setenv("APPTUIT_DISABLED", "true")
    client_for(fake).send(points(2))
    Apptuit().send_timeseries([TimeSeries("m", {"a": "b"}, [1700000000], [1.0])])
    assert fake.requests == []
