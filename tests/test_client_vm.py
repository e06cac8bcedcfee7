"""The client against a real VictoriaMetrics: what is stored is exactly what was sent."""
import time

import pytest

from apptuit_like import Apptuit, DataPoint, TimeSeries


def now():
    return int(time.time())


@pytest.mark.parametrize("compression", ["gzip", None])
def test_send_datapoints_arrive_exactly(vm, uid, compression):
    client = Apptuit(api_endpoint=vm.put_endpoint, compression=compression,
                     global_tags={"env": "test", "host": "global"})
    ts = now()
    client.send([DataPoint(uid + ".cpu-load", {"host": "a", "core.id": "0"}, ts, 0.25),
                 DataPoint(uid + ".cpu-load", {"host": "b"}, ts - 10, 17),
                 DataPoint(uid + ".cpu-load", {"zone": "eu west/1"}, ts - 20, -3.5e9)])
    assert vm.series('{__name__=~"%s.*"}' % uid) == {
        (uid + "_cpu_load", (("core_id", "0"), ("env", "test"), ("host", "a"))): [(ts, 0.25)],
        (uid + "_cpu_load", (("env", "test"), ("host", "b"))): [(ts - 10, 17)],
        (uid + "_cpu_load", (("env", "test"), ("host", "global"), ("zone", "eu west/1"))):
            [(ts - 20, -3.5e9)]}


def test_send_timeseries_100k_points_read_back_exactly(vm, uid):
    client = Apptuit(api_endpoint=vm.put_endpoint, batch_size=30000)
    start = now() - 20000
    series_list = []
    for s in range(10):
        series = TimeSeries(uid + ".series", {"s": str(s), "kind": "bulk"})
        for i in range(10000):
            series.add_point(start + i, s * 100000 + i * 0.5)
        series_list.append(series)
    client.send_timeseries(series_list)
    stored = vm.series('{__name__="%s_series"}' % uid)
    assert len(stored) == 10
    for s in range(10):
        points = stored[(uid + "_series", (("kind", "bulk"), ("s", str(s))))]
        assert points == [(start + i, s * 100000 + i * 0.5) for i in range(10000)]


def test_sanitize_modes_apply_to_names_and_tag_keys_not_values(vm, uid):
    ts = now()
    name, tags = uid + ".req/lat-ms", {"route.name": "/api/v1.x", "http-code": "5xx"}
    Apptuit(api_endpoint=vm.put_endpoint, sanitize_mode="apptuit").send_timeseries(
        [TimeSeries(name, tags, [ts], [1.0])])
    Apptuit(api_endpoint=vm.put_endpoint).send([DataPoint(name, tags, ts, 2.0)])
    Apptuit(api_endpoint=vm.put_endpoint, sanitize_mode=None).send(
        [DataPoint(name, {"route.name": "/x y"}, ts, 3.0)])
    assert vm.series('{__name__=~"%s.*"}' % uid) == {
        (uid + ".req/lat-ms", (("http-code", "5xx"), ("route.name", "/api/v1.x"))): [(ts, 1.0)],
        (uid + "_req_lat_ms", (("http_code", "5xx"), ("route_name", "/api/v1.x"))): [(ts, 2.0)],
        (uid + ".req/lat-ms", (("route.name", "/x y"),)): [(ts, 3.0)]}


def test_endpoint_with_trailing_slash_and_token_over_plain_http(vm, uid):
    client = Apptuit(token="secret-token", api_endpoint=vm.put_endpoint + "/")
    client.send([DataPoint(uid, {"a": "b"}, now(), 1)])
    assert len(vm.series('{__name__="%s"}' % uid)) == 1


def test_environment_configures_the_client(vm, uid, monkeypatch):
    monkeypatch.setenv("APPTUIT_API_ENDPOINT", vm.put_endpoint)
    monkeypatch.setenv("APPTUIT_TAGS", "team: core, region:eu")
    ts = now()
    Apptuit().send([DataPoint(uid, {"region": "us"}, ts, 4)])
    assert vm.series('{__name__="%s"}' % uid) == {
        (uid, (("region", "us"), ("team", "core"))): [(ts, 4)]}
