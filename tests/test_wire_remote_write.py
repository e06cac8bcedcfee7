"""The remote-write encoder against protobuf's own encoding, byte for byte, and
its labels, names and values as Prometheus expects them."""
import math

import cramjam
import pytest
from hypothesis import given, settings, strategies as st
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from apptuit_like._sanitize import get_sanitizer
from apptuit_like._wire import SKIP, get_wire
from apptuit_like._wire.remote_write import varint

WIRE = get_wire("remote_write")
SANITIZE = get_sanitizer("prometheus")


def _write_request_class():
    """prometheus.WriteRequest built from its descriptor: no protoc needed."""
    proto = descriptor_pb2.FileDescriptorProto(name="rw_test.proto", package="rwtest",
                                               syntax="proto3")
    F = descriptor_pb2.FieldDescriptorProto

    def message(name, *fields):
        msg = proto.message_type.add(name=name)
        for number, (field_name, kind, label, type_name) in enumerate(fields, 1):
            msg.field.add(name=field_name, number=number, type=kind, label=label,
                          type_name=type_name)
    message("Label", ("name", F.TYPE_STRING, F.LABEL_OPTIONAL, None),
            ("value", F.TYPE_STRING, F.LABEL_OPTIONAL, None))
    message("Sample", ("value", F.TYPE_DOUBLE, F.LABEL_OPTIONAL, None),
            ("timestamp", F.TYPE_INT64, F.LABEL_OPTIONAL, None))
    message("TimeSeries", ("labels", F.TYPE_MESSAGE, F.LABEL_REPEATED, ".rwtest.Label"),
            ("samples", F.TYPE_MESSAGE, F.LABEL_REPEATED, ".rwtest.Sample"))
    message("WriteRequest",
            ("timeseries", F.TYPE_MESSAGE, F.LABEL_REPEATED, ".rwtest.TimeSeries"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("rwtest.WriteRequest"))


WriteRequest = _write_request_class()


def render(name, tags, values, stamp, fields=("",)):
    out = []
    names = WIRE.field_parts(name, fields, SANITIZE) * (len(values) // len(fields))
    keys = [WIRE.key_part(name, fields, tags, SANITIZE)] * len(values)
    invalid = WIRE.render(names, keys, values, WIRE.tail(stamp), out, True, len(fields))
    return out, invalid


def reference(series):
    """protobuf's bytes for [(labels dict, value, stamp)], labels sorted by name."""
    request = WriteRequest()
    for labels, value, stamp in series:
        ts = request.timeseries.add()
        for key in sorted(labels):
            ts.labels.add(name=key, value=labels[key])
        ts.samples.add(value=value, timestamp=stamp)
    return request.SerializeToString()


@pytest.mark.parametrize("value", [1, 0, 0.0, -0.0, 2.5, -3, 1e300, 5e-324, 2 ** 53, True])
@pytest.mark.parametrize("stamp", [1, 127, 128, 1700000000000, 2 ** 62])
def test_one_sample_is_protobufs_bytes(value, stamp):
    tags = {"city": "Zürich", "Env": "dev", "zone": "a" * 200}   # "Env" sorts before __name__
    units, invalid = render("orders.count", tags, [value], stamp)
    expected = reference([({"__name__": "orders_count", **tags}, float(value), stamp)])
    assert invalid == 0 and b"".join(units) == expected


def test_a_body_of_many_series_is_protobufs_bytes_in_a_snappy_block():
    units, _ = render("lat", {"route": "/a"}, [1.5, 7, 0.25], 1700000000123,
                      fields=("avg", "count", "max"))
    body = WIRE.body(units, "snappy")
    expected = reference([({"__name__": "lat_" + f, "route": "/a"}, v, 1700000000123)
                          for f, v in (("avg", 1.5), ("count", 7.0), ("max", 0.25))])
    assert bytes(cramjam.snappy.decompress_raw(body)) == expected
    parsed = WriteRequest.FromString(expected)
    assert [ts.labels[0].value for ts in parsed.timeseries] == ["lat_avg", "lat_count",
                                                                 "lat_max"]


def test_bad_values_are_counted_and_skips_left_out():
    units, invalid = render("g", {"a": "b"}, [1, math.nan, math.inf, SKIP, "x", None, 2], 5,
                            fields=("v",) * 7)
    assert invalid == 4
    parsed = WriteRequest.FromString(b"".join(units))
    assert [ts.samples[0].value for ts in parsed.timeseries] == [1.0, 2.0]


def test_names_and_label_names_are_made_valid_for_prometheus_whatever_the_mode():
    keep_dots = get_sanitizer("apptuit")
    names = WIRE.field_parts("http.requests", ("95_percentile",), keep_dots)
    before, after = WIRE.key_part("http.requests", ("",), {"host.name": "a.b"}, keep_dots)
    parsed = WriteRequest.FromString(b"\x0a" + varint(len(before + names[0] + after))
                                     + before + names[0] + after)
    labels = [(l.name, l.value) for l in parsed.timeseries[0].labels]
    assert labels == [("__name__", "http_requests_95_percentile"), ("host_name", "a.b")]


def test_the_url_is_the_remote_write_url_a_bare_host_gets_the_standard_path():
    assert WIRE.url("http://prom:9090/api/v1/write") == "http://prom:9090/api/v1/write"
    assert WIRE.url("https://host/api/prom/push") == "https://host/api/prom/push"
    assert WIRE.url("http://vm:8428") == "http://vm:8428/api/v1/write"


finite = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                   st.integers(-2 ** 70, 2 ** 70), st.sampled_from([0, 0.0, -0.0, 1e308]))


@settings(max_examples=200, deadline=None)
@given(points=st.lists(st.tuples(st.text("ab", min_size=1, max_size=150), finite), min_size=1,
                       max_size=300),
       stamp=st.sampled_from([0, 1, 1700000000000]))
def test_a_chunk_of_finite_values_is_protobufs_bytes_rendered_at_once(points, stamp):
    # one render call per chunk, as a report makes: the values all plain and finite
    # take the C-speed path; zeros, sums past the doubles' range and series longer
    # than 127 bytes each have their own form
    names = WIRE.field_parts("m", ("",), SANITIZE) * len(points)
    keys = [WIRE.key_part("m", ("",), {"t": text}, SANITIZE) for text, _ in points]
    out = []
    assert WIRE.render(names, keys, [v for _, v in points], WIRE.tail(stamp), out, True,
                       1) == 0
    expected = reference([({"__name__": "m", "t": text}, float(value), stamp)
                          for text, value in points])
    assert b"".join(out) == expected and len(out) == len(points)


def test_an_int_past_the_doubles_range_is_counted_invalid_and_the_rest_sent():
    units, invalid = render("g", {"a": "b"}, [10 ** 400, 3, -10 ** 400], 5, fields=("v",) * 3)
    assert invalid == 2
    parsed = WriteRequest.FromString(b"".join(units))
    assert [ts.samples[0].value for ts in parsed.timeseries] == [3.0]
