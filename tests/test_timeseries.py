import math

import pytest
from apptuit import timeseries as reference

from apptuit_like import ApptuitValueError, DataPoint, TimeSeries, TimeSeriesName
from apptuit_like.timeseries import decode_metric, encode_metric


def test_encode_matches_apptuit_and_round_trips():
    tags = {"city": "ber", "env": "dev", "n": 3}
    key = encode_metric("order.count", tags)
    assert key == reference.encode_metric("order.count", tags)
    assert decode_metric(key) == ("order.count", tags)
    assert decode_metric(" plain.name ") == ("plain.name", {})


@pytest.mark.parametrize("bad", ['name{"a": ', '{"a": "b"}', "name{1, 2}", "", "   ", None,
                                 'name["a"]{'])
def test_decode_malformed_raises_value_error(bad):
    with pytest.raises(ValueError):
        decode_metric(bad)


@pytest.mark.parametrize("name, tags", [("", {}), (None, {}), ("m", ["a"]), ("m", None)])
def test_encode_invalid_raises_value_error(name, tags):
    with pytest.raises(ValueError):
        encode_metric(name, tags)


def test_decode_keeps_no_cache_between_calls():
    """Each call parses afresh: results never alias, for any number of keys."""
    keys = [encode_metric("m", {"i": str(i)}) for i in range(5000)]
    decoded = [decode_metric(k) for k in keys]
    assert [t["i"] for _, t in decoded] == [str(i) for i in range(5000)]
    first = decode_metric(keys[0])[1]
    first["i"] = "mutated"
    assert decode_metric(keys[0])[1] == {"i": "0"}
    assert not hasattr(decode_metric, "cache_info")


def test_timeseries_name_validation_and_str():
    assert str(TimeSeriesName("cpu", {"b": 1, "a": "x"})) == 'cpu{"a": "x", "b": 1}'
    assert TimeSeriesName.decode_metric('cpu{"a": "x"}') == ("cpu", {"a": "x"})
    with pytest.raises(ValueError):
        TimeSeriesName("", {"a": "b"})
    with pytest.raises(ValueError, match="cpu"):
        TimeSeriesName("cpu", {"": "b"})


def test_timeseries_points_and_repr():
    series = TimeSeries("queue.depth", {"q": "orders", "a": "1"})
    series.add_point(1700000000, 3)
    series.add_point(1700000001, 2.5)
    assert len(series) == 2 and series.values == [3.0, 2.5]
    assert series.timestamps == [1700000000, 1700000001]
    assert repr(series) == "queue.depth{a:1, q:orders}"
    series.add_point(1700000002, "7")   # a numeric string, as apptuit-py takes it
    assert series.values[-1] == 7.0
    with pytest.raises(ValueError, match="queue.depth"):
        series.add_point(1700000003, "seven")
    with pytest.raises(ValueError):
        TimeSeries("m", {"a": "b"}, [1, 2], [1.0])


def test_datapoint_keeps_float_value_and_refuses_what_is_not_a_number():
    point = DataPoint("cpu", {"host": "a"}, 1700000000, 1)
    assert point.value == 1.0 and isinstance(point.value, float)
    assert DataPoint("cpu", {"host": "a"}, 1700000000, " 1.5 ").value == 1.5
    assert math.isnan(DataPoint("cpu", {"h": "a"}, 1, float("nan")).value)
    assert repr(point) == "cpu{host:a, timestamp: 1700000000, value: 1.000000}"
    for bad in ("abc", "nan", "-inf", "", None, object()):
        with pytest.raises(ValueError, match="cpu"):
            DataPoint("cpu", {"host": "a"}, 1700000000, bad)


def test_a_signaling_nan_decimal_is_refused_naming_the_metric():
    # found by tests/test_properties.py: float() raised a bare ValueError
    import decimal
    with pytest.raises(ApptuitValueError, match=r"cpu\{host:a\}"):
        DataPoint("cpu", {"host": "a"}, 1700000000, decimal.Decimal("sNaN"))
