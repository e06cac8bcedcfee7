"""PromQL against a real VictoriaMetrics, reading back what the client itself sent."""
import time

import pandas as pd
import pytest

from apptuit_like import Apptuit, ApptuitQueryError, TimeSeries

CITIES = {"blr": 1.0, "del": 2.0, "hyd": 3.0}
MINUTES = 30


@pytest.fixture(scope="module")
def stored(vm):
    """Minutely points of three cities, 30 minutes ending an hour ago; (metric, t0)."""
    metric = "orders_%d" % time.monotonic_ns()
    t0 = (int(time.time()) // 60) * 60 - 3600 - 60 * MINUTES
    client = Apptuit(api_endpoint=vm.put_endpoint, global_tags={"service": "shop"})
    client.send_timeseries([
        TimeSeries(metric, {"city": city}, [t0 + 60 * i for i in range(MINUTES)],
                   [scale * i for i in range(MINUTES)]) for city, scale in CITIES.items()])
    vm.flush()
    return metric, t0


def two_port_client(vm):
    """VictoriaMetrics takes puts on its OpenTSDB port and PromQL on its HTTP port."""
    return Apptuit(api_endpoint=vm.put_endpoint, query_endpoint=vm.query_url)


def test_promql_reads_back_every_point(vm, stored):
    metric, t0 = stored
    end = t0 + 60 * (MINUTES - 1)
    result = two_port_client(vm).query_promql(metric, start=t0, end=end, step=60)
    assert result.keys() == [metric]
    series = sorted(result[0].series, key=lambda s: s.tags["city"])
    assert [(s.metric, s.tags) for s in series] == [
        (metric, {"city": city, "service": "shop"}) for city in sorted(CITIES)]
    for s in series:
        assert s.timestamps == [t0 + 60 * i for i in range(MINUTES)]
        assert s.values == [CITIES[s.tags["city"]] * i for i in range(MINUTES)]


def test_dataframe_shape_columns_and_values(vm, stored):
    metric, t0 = stored
    frame = two_port_client(vm).query_promql(
        metric, start=t0, end=t0 + 60 * (MINUTES - 1), step="1m")[metric].to_df()
    assert frame.shape == (MINUTES, len(CITIES))
    assert sorted(frame.columns) == ["%s{city:%s, service:shop}" % (metric, city)
                                     for city in sorted(CITIES)]
    assert list(frame.index) == list(pd.date_range(pd.Timestamp(t0, unit="s"),
                                                   periods=MINUTES, freq="60s"))
    assert frame["%s{city:hyd, service:shop}" % metric].iloc[-1] == 3.0 * (MINUTES - 1)


def test_time_bounds_limit_the_rows(vm, stored, monkeypatch):
    metric, t0 = stored
    monkeypatch.setenv("APPTUIT_QUERY_ENDPOINT", vm.query_url)
    start, end = t0 + 600, t0 + 1200
    frame = Apptuit(api_endpoint=vm.put_endpoint).query_promql(
        '%s{city="del"}' % metric, start=start, end=end, step=60)[0].to_df()
    assert frame.shape == (11, 1)
    assert frame.index[0] == pd.Timestamp(start, unit="s")
    assert frame.index[-1] == pd.Timestamp(end, unit="s")
    assert frame.iloc[:, 0].tolist() == [2.0 * i for i in range(10, 21)]


def test_aggregations_without_a_name_are_named_by_the_expression(vm, stored):
    metric, t0 = stored
    expr = "sum(%s)" % metric
    series, = two_port_client(vm).query_promql(expr, start=t0 + 60, end=t0 + 120)[0].series
    assert (series.metric, series.tags) == (expr, {})
    assert series.values == [sum(CITIES.values()) * i for i in (1, 2)]


def test_a_bad_expression_raises_with_the_servers_error(vm):
    with pytest.raises(ApptuitQueryError, match=r"HTTP 422: .*unexpected token") as info:
        two_port_client(vm).query_promql("orders{", start=time.time() - 60)
    assert info.value.status_code == 422
