"""Each wire's requests and the answers they meet, against the scripted local
server; the command's --wire against VictoriaMetrics."""
import gzip
import time

import cramjam
import pytest
from pyformance import MetricsRegistry

from apptuit_like import Apptuit, ApptuitSendException, ApptuitValueError, DataPoint
from apptuit_like.pyformance import ApptuitReporter
from apptuit_like._retry import RetryPolicy
from apptuit_like.timeseries import encode_metric
from servers import Reply
from test_cli import run
from test_wire_remote_write import WriteRequest

FAST = RetryPolicy(backoff_factor=0.01, backoff_max=0.05)


def decoded(request):
    return WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(request["raw"])))


def test_remote_write_requests_carry_the_protocols_headers_and_a_snappy_protobuf(fake):
    client = Apptuit(token="s3cret", api_endpoint=fake.endpoint + "/api/v1/write",
                     wire="remote_write")
    client.send([DataPoint("cpu.load", {"host": "a"}, 1700000000, 0.5),
                 DataPoint("cpu.load", {"host": "a"}, 1700000000.25, 0.75)])
    (request,) = fake.requests
    headers = request["headers"]
    assert request["path"] == "/api/v1/write"
    assert headers["Content-Encoding"] == "snappy"
    assert headers["Content-Type"] == "application/x-protobuf"
    assert headers["X-Prometheus-Remote-Write-Version"] == "0.1.0"
    assert headers["Authorization"] == "Bearer s3cret"
    series = decoded(request).timeseries
    assert [(l.name, l.value) for l in series[0].labels] == [("__name__", "cpu_load"),
                                                             ("host", "a")]
    assert [(s.samples[0].timestamp, s.samples[0].value) for s in series] == [
        (1700000000000, 0.5), (1700000000250, 0.75)]


def test_429_and_5xx_are_retried_after_retry_after_other_4xx_never(fake):
    fake.script(Reply(429, "slow down", {"Retry-After": "0"}), Reply(503, "busy"))
    client = Apptuit(api_endpoint=fake.endpoint, wire="remote_write", retry_policy=FAST)
    client.send([DataPoint("m", {"a": "b"}, 1700000000, 1)], retry_count=2)
    assert len(fake.requests) == 3
    fake.script(Reply(400, "out of order sample"))
    with pytest.raises(ApptuitSendException) as caught:
        client.send([DataPoint("m", {"a": "b"}, 1700000000, 1)], retry_count=2)
    assert len(fake.requests) == 4 and "out of order sample" in str(caught.value)


def test_influx_1_writes_lines_with_database_and_ms_precision(fake):
    client = Apptuit(api_endpoint=fake.endpoint, wire="influx", influx_database="ops",
                     token="a.jwt.token")
    client.send([DataPoint("http.latency", {"route": "/a b", "code": "2,00"}, 1700000000, 3),
                 DataPoint("queue", {"name": "x=y"}, 1700000000123, 0.5)])
    (request,) = fake.requests
    assert request["path"] == "/write?db=ops&precision=ms"
    assert request["headers"]["Authorization"] == "Bearer a.jwt.token"
    assert gzip.decompress(request["raw"]).decode() == (
        "http,code=2\\,00,route=/a\\ b latency=3.0 1700000000000\n"
        "queue,name=x\\=y value=0.5 1700000000123\n")


def test_influx_2_takes_org_bucket_and_a_token(fake):
    client = Apptuit(api_endpoint=fake.endpoint, wire="influx", influx_org="acme",
                     influx_bucket="svc", token="t0k", compression=None)
    client.send([DataPoint("m", {"a": "b"}, 1700000000, 1)])
    (request,) = fake.requests
    assert request["path"] == "/api/v2/write?org=acme&bucket=svc&precision=ms"
    assert request["headers"]["Authorization"] == "Token t0k"
    assert request["raw"] == b"m,a=b value=1.0 1700000000000\n"


@pytest.mark.parametrize("options, message", [
    ({"wire": "graphite"}, "Invalid wire 'graphite'"),
    ({"wire": "influx", "influx_org": "acme"}, "needs both org and bucket"),
    ({"wire": "remote_write", "influx_database": "x"}, "takes no options"),
    ({"wire": "influx", "compression": "deflate"}, "Invalid compression 'deflate' for the "
                                                   "influx wire"),
])
def test_bad_wire_settings_are_refused_by_name(options, message):
    with pytest.raises(ApptuitValueError, match=message):
        Apptuit(api_endpoint="http://127.0.0.1:1", **options)


def test_a_line_break_in_a_tag_is_refused_naming_it():
    client = Apptuit(api_endpoint="http://127.0.0.1:1", wire="influx")
    with pytest.raises(ApptuitValueError, match="tag value 'a\\\\nb' holds a line break"):
        client.send([DataPoint("m", {"k": "a\nb"}, 1700000000, 1)])


def test_the_environment_chooses_the_wire_and_millisecond_stamps_come_with_it(
        fake, monkeypatch):
    monkeypatch.setenv("APPTUIT_WIRE", "influx")
    monkeypatch.setenv("APPTUIT_TIMESTAMP_PRECISION", "s")
    registry = MetricsRegistry()
    registry.counter(encode_metric("jobs", {"q": "a"})).inc(2)
    reporter = ApptuitReporter(registry=registry, api_endpoint=fake.endpoint,
                               disable_host_tag=True)
    before = int(time.time() * 1000)
    reporter.report_now()
    lines = gzip.decompress(fake.requests[0]["raw"]).decode().splitlines()
    jobs = [line for line in lines if line.startswith("jobs,")]
    assert len(jobs) == 1 and jobs[0].startswith("jobs,q=a count=2 ")
    assert before <= int(jobs[0].rsplit(" ", 1)[1]) <= int(time.time() * 1000)


@pytest.mark.parametrize("wire, path", [("remote_write", "/api/v1/write"), ("influx", "")])
def test_the_command_sends_over_each_wire(capsys, vm, uid, tmp_path, wire, path):
    lines = tmp_path / "points.txt"
    now = int(time.time())
    lines.write_text("put %s.jobs %d 4 q=a\nput %s.jobs %d 5 q=a\n" % (uid, now - 1, uid, now))
    status, out, err = run(capsys, "send", str(lines), "--wire", wire,
                           "--endpoint", vm.query_url + path)
    assert status == 0, out + err
    assert "sent 2 points" in out
    stored = vm.series('%s_jobs{q="a"}' % uid)
    assert list(stored.values()) == [[(now - 1, 4.0), (now, 5.0)]]


@pytest.mark.parametrize("wire", ["remote_write", "influx"])
def test_the_demo_runs_over_each_wire(capsys, wire):
    status, out, err = run(capsys, "demo", "--duration", "2", "--interval", "1",
                           "--no-plot", "--wire", wire)
    assert status == 0, out + err
    assert "over the %s wire" % wire in out
    assert 'order_count_count{city="BLR"}' in out


def test_basic_auth_from_the_url_goes_out_on_every_wire(fake):
    address = fake.endpoint.replace("http://", "http://grafana:s3cret@")
    for wire, path in (("remote_write", "/api/prom/push"), ("influx", "")):
        Apptuit(api_endpoint=address + path, wire=wire).send(
            [DataPoint("m", {"a": "b"}, 1700000000, 1)])
    basic = "Basic Z3JhZmFuYTpzM2NyZXQ="   # grafana:s3cret
    assert [r["headers"]["Authorization"] for r in fake.requests] == [basic, basic]
    assert [r["path"] for r in fake.requests] == ["/api/prom/push", "/write?precision=ms"]
