"""Querying: Apptuit QL against a local server playing Apptuit, parsing and to_df."""
import datetime
import sys
import time
from urllib.parse import parse_qs, urlsplit

import apptuit.apptuit_client as peer
import pandas as pd
import pytest
import requests

from apptuit_like import (Apptuit, ApptuitException, ApptuitQueryConnectionError,
                          ApptuitQueryError, ApptuitQueryTimeout, ApptuitValueError, Output,
                          QueryResult, RetryPolicy, TimeSeries)
from apptuit_like._query import parse_apptuit
from servers import Reply

TOKEN = "tok-SECRET-9f8e7d"
FAST = RetryPolicy(backoff_factor=0.01, backoff_max=0.02)
T0 = 1700000000


def result_of(name, tags, points):
    return {"metric": name, "tags": tags, "dps": [[t, v] for t, v in points]}


ANSWER = {"outputs": [
    {"id": "cpu", "result": [
        result_of("proc.cpu", {"host": "a"}, [(T0 - 60, 9.0), (T0, 0.5), (T0 + 60, 0.7)]),
        result_of("proc.cpu", {"host": "b"}, [(T0, 1.5), (T0 + 120, 2.5)])]},
    {"id": "idle", "result": []},
    {"id": "load", "result": [result_of("node.load1", {"host": "a"}, [(T0 + 60, 3)])]}]}


def client_for(fake, **kwargs):
    kwargs.setdefault("retry_policy", FAST)
    return Apptuit(token=TOKEN, api_endpoint=fake.endpoint, **kwargs)


def request_params(request):
    parts = urlsplit(request["path"])
    return parts.path, {key: values[0] for key, values in parse_qs(parts.query).items()}


def test_query_request_and_outputs_by_position_and_id(fake):
    fake.script(Reply(200, ANSWER))
    query = "cpu = fetch('proc.cpu');\nload = fetch('node.load1');\noutput(cpu, idle, load)"
    result = client_for(fake).query(query, start=T0, end=T0 + 3600)
    request, = fake.requests
    assert request["method"] == "GET"
    assert request_params(request) == ("/api/query", {
        "start": str(T0), "end": str(T0 + 3600), "q": query})
    assert request["headers"]["Authorization"] == "Bearer " + TOKEN
    assert result.keys() == ["cpu", "idle", "load"] and len(result) == 3
    assert result[0] is result["cpu"] and result[2] is result["load"] and result[-1] is result[2]
    assert len(result["idle"]) == 0, "an empty output keeps its place"
    a, b = result["cpu"].series
    assert (a.metric, a.tags, a.timestamps, a.values) == (
        "proc.cpu", {"host": "a"}, [T0, T0 + 60], [0.5, 0.7]), "points before start dropped"
    assert (b.timestamps, b.values) == ([T0, T0 + 120], [1.5, 2.5])
    assert repr(result) == "{start: %d, end: %d, outputs: cpu, idle, load}" % (T0, T0 + 3600)


def test_points_after_end_are_dropped_and_end_is_optional(fake):
    fake.script(Reply(200, ANSWER), Reply(200, ANSWER))
    client = client_for(fake)
    assert client.query("q", start=T0, end=T0 + 60)["cpu"].series[1].timestamps == [T0]
    result = client.query("q", start=datetime.datetime.fromtimestamp(T0, datetime.timezone.utc))
    assert "end" not in request_params(fake.requests[1])[1]
    assert result.start == T0 and result.end is None
    assert result["cpu"].series[1].timestamps == [T0, T0 + 120]


def test_missing_output_names_the_ones_there(fake):
    fake.script(Reply(200, ANSWER))
    result = client_for(fake).query("q", start=T0)
    with pytest.raises(KeyError, match="'disk'.*'cpu', 'idle', 'load'"):
        result["disk"]
    with pytest.raises(IndexError, match="output 3 out of range: this result has 3"):
        result[3]
    assert "cpu" in result and "disk" not in result
    assert [output.id for output in result] == ["cpu", "idle", "load"]


def test_no_outputs_gives_none(fake):
    fake.script(Reply(200, {"outputs": []}))
    assert client_for(fake).query("q", start=T0) is None


@pytest.mark.parametrize("reply, fragment", [
    (Reply(400, {"error": "Unknown function fetchh at line 1"}),
     "HTTP 400: Unknown function fetchh at line 1"),
    (Reply(400, {"error": {"type": "SyntaxError", "message": "unexpected ')'"}}),
     "HTTP 400: SyntaxError: unexpected ')'"),
    (Reply(404, "no such route"), "HTTP 404 Not Found from http://127.0.0.1"),
    (Reply(200, "<html>proxy login</html>"), "not JSON: <html>proxy login</html>"),
    (Reply(200, {"outputs": [{"result": []}]}), "Unexpected Apptuit query answer"),
])
def test_error_answers_carry_the_servers_words_never_the_token(fake, reply, fragment):
    fake.script(reply)
    with pytest.raises(ApptuitQueryError) as info:
        client_for(fake).query("fetchh('x')", start=T0, retry_count=3)
    assert fragment in str(info.value)
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    assert len(fake.requests) == 1, "a final answer is not retried"
    if reply.status != 200:
        assert info.value.status_code == reply.status


@pytest.mark.parametrize("status", [401, 403])
def test_bad_token_is_not_retried(fake, status):
    fake.script(Reply(status, "denied"))
    with pytest.raises(ApptuitQueryError, match="HTTP %d" % status) as info:
        client_for(fake).query("q", start=T0, retry_count=3)
    assert info.value.status_code == status and len(fake.requests) == 1


def test_5xx_and_429_are_retried_then_succeed(fake):
    fake.script(Reply(503, "busy"), Reply(429, "slow down", {"Retry-After": "0"}),
                Reply(200, ANSWER))
    result = client_for(fake).query("q", start=T0, retry_count=2)
    assert len(fake.requests) == 3 and result["load"].series[0].values == [3]


def test_5xx_past_retry_count_raises(fake):
    fake.script(Reply(500, "boom"), Reply(502, "bad gateway"), Reply(200, ANSWER))
    with pytest.raises(ApptuitQueryError, match="HTTP 502.*bad gateway") as info:
        client_for(fake).query("q", start=T0, retry_count=1)
    assert info.value.status_code == 502 and len(fake.requests) == 2


def test_timeout_is_retried_and_then_raises_a_requests_timeout(fake):
    fake.script(Reply(200, ANSWER, delay=1.0), Reply(200, ANSWER))
    assert client_for(fake).query("q", start=T0, timeout=0.2, retry_count=1) is not None
    fake.script(Reply(200, ANSWER, delay=1.0))
    with pytest.raises(ApptuitQueryTimeout, match="timed out after 0.2s") as info:
        client_for(fake).query("q", start=T0, timeout=0.2)
    assert isinstance(info.value, requests.exceptions.Timeout)
    assert isinstance(info.value, ApptuitException)


def test_refused_connection_raises_a_requests_connection_error(refused_endpoint):
    client = Apptuit(token=TOKEN, api_endpoint=refused_endpoint, retry_policy=FAST)
    with pytest.raises(ApptuitQueryConnectionError) as info:
        client.query("q", start=T0, retry_count=2)
    assert isinstance(info.value, requests.exceptions.ConnectionError)
    assert refused_endpoint in str(info.value) and TOKEN not in str(info.value)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"start": "yesterday"}, "start must be Unix seconds or a datetime, got 'yesterday'"),
    ({"start": T0, "end": T0 - 1}, "end %d is before start %d" % (T0 - 1, T0)),
    ({"start": float("nan")}, "start must be Unix seconds"),
])
def test_bad_time_range_fails_before_any_request(fake, kwargs, fragment):
    with pytest.raises(ApptuitValueError, match=fragment):
        client_for(fake).query("q", **kwargs)
    with pytest.raises(ValueError, match=fragment):
        client_for(fake).query_promql("up", **kwargs)
    assert fake.requests == []


@pytest.mark.parametrize("step", [0, -60, "", True, float("inf")])
def test_bad_promql_step_is_refused(fake, step):
    with pytest.raises(ApptuitValueError, match="step must be positive seconds"):
        client_for(fake).query_promql("up", start=T0, step=step)
    assert fake.requests == []


def test_promql_goes_to_the_query_endpoint(fake, monkeypatch):
    promql = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "up", "job": "x"}, "values": [[T0, "1"], [T0 + 60, "NaN"]]}]}}
    fake.script(Reply(200, promql), Reply(200, promql), Reply(200, promql))
    put_elsewhere = "http://127.0.0.1:9"
    Apptuit(api_endpoint=put_elsewhere, query_endpoint=fake.endpoint + "/select/0/prometheus/"
            ).query_promql("up", start=T0, end=T0 + 60, step="1m")
    monkeypatch.setenv("APPTUIT_QUERY_ENDPOINT", fake.endpoint)
    Apptuit(api_endpoint=put_elsewhere).query_promql("up", start=T0, end=T0 + 60)
    monkeypatch.delenv("APPTUIT_QUERY_ENDPOINT")
    before = time.time()
    result = Apptuit(api_endpoint=fake.endpoint).query_promql("up", start=T0)
    paths = [request_params(r) for r in fake.requests]
    assert paths[0] == ("/select/0/prometheus/api/v1/query_range", {
        "query": "up", "start": str(T0), "end": str(T0 + 60), "step": "1m"})
    assert paths[1][0] == "/api/v1/query_range" and paths[1][1]["step"] == "60"
    assert before - 1 <= float(paths[2][1]["end"]) <= time.time() + 1, "end defaults to now"
    series, = result["up"].series
    assert (series.metric, series.tags, series.timestamps) == ("up", {"job": "x"},
                                                               [T0, T0 + 60])
    assert series.values[0] == 1.0 and series.values[1] != series.values[1]  # NaN


@pytest.mark.parametrize("reply", [
    Reply(422, {"status": "error", "errorType": "bad_data", "error": "parse error at char 4"}),
    Reply(200, {"status": "error", "errorType": "bad_data", "error": "parse error at char 4"}),
])
def test_promql_errors_carry_error_type_and_text(fake, reply):
    fake.script(reply)
    with pytest.raises(ApptuitQueryError, match="bad_data: parse error at char 4") as info:
        client_for(fake).query_promql("up{", start=T0)
    assert info.value.error_type == "bad_data"


def test_promql_vector_answer_is_refused_clearly(fake):
    fake.script(Reply(200, {"status": "success", "data": {"resultType": "vector",
                                                          "result": []}}))
    with pytest.raises(ApptuitQueryError, match="resultType 'vector', expected 'matrix'"):
        client_for(fake).query_promql("up", start=T0)


def test_to_df_columns_index_and_gaps():
    output = Output("cpu", [TimeSeries("cpu", {"host": "a", "core": "0"}, [T0, T0 + 60],
                                       [0.5, None]),
                            TimeSeries("cpu", {"host": "b"}, [T0 + 60, T0 + 120], [1, 2])])
    frame = output.to_df()
    assert list(frame.columns) == ["cpu{core:0, host:a}", "cpu{host:b}"]
    assert list(frame.index) == list(pd.to_datetime([T0, T0 + 60, T0 + 120], unit="s"))
    assert frame.iloc[0, 0] == 0.5 and frame.iloc[2, 1] == 2.0
    assert frame.isna().values.tolist() == [[False, True], [True, False], [True, False]]


def test_to_df_tz_converts_the_same_instants():
    output = Output("x", [TimeSeries("x", {"k": "v"}, [T0], [1.0])])
    stamp = output.to_df(tz="Asia/Kolkata").index[0]
    assert str(stamp.tz) == "Asia/Kolkata" and stamp.hour == 3 and stamp.minute == 43
    assert stamp == pd.Timestamp(T0, unit="s", tz="UTC")


def test_to_df_of_an_empty_output_is_an_empty_frame():
    frame = Output("none").to_df()
    assert frame.empty and isinstance(frame.index, pd.DatetimeIndex)


@pytest.mark.filterwarnings("ignore:Sorting by default")  # inside apptuit's own to_df
def test_to_df_matches_apptuit_on_the_same_answer():
    """apptuit 2.4.2's Output.to_df on its own parse of the same answer."""
    import json
    body = json.dumps({"outputs": [{"id": "m", "result": [
        result_of("m", {"i": str(i)}, [(T0 + 60 * j, float(i * j)) for j in range(50)
                                        if (i + j) % 7]) for i in range(20)]}]})
    ours = parse_apptuit(body.encode(), T0)[0].to_df()
    theirs = peer._parse_response(body, T0)[0].to_df()
    assert list(ours.columns) == list(theirs.columns)
    pd.testing.assert_frame_equal(ours, theirs.astype(float), check_freq=False)


def test_to_df_without_pandas_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'apptuit_like\[query\]'"):
        Output("x", [TimeSeries("x", {"k": "v"}, [T0], [1.0])]).to_df()


def test_query_result_setitem_keeps_apptuit_style_building():
    result = QueryResult(T0)
    result["cpu"] = Output()
    assert result[0].id == "cpu" and repr(result) == repr(peer.QueryResult(T0)).replace(
        "outputs: ", "outputs: cpu")
