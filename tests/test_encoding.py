"""Batching by points and by bytes, and the byte cap against a real VictoriaMetrics."""
import gzip
import json
import random
import time
import zlib

import pytest
import requests
from hypothesis import given, strategies as st

from apptuit_like import Apptuit, ApptuitSendException, DataPoint
from apptuit_like._encoding import encode_body, format_value, json_body, number_texts, \
    rebatch
from apptuit_like.testing import LocalVictoriaMetrics


def random_points(rng, count):
    alphabet = "abcxyz0189_-\"é€😀"
    return ['{"m":"%s"}' % "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
            for _ in range(count)]


@pytest.mark.parametrize("seed", range(20))
def test_batches_respect_both_limits_and_lose_nothing(seed):
    rng = random.Random(seed)
    points = random_points(rng, rng.randint(0, 400))
    chunks, rest = [], list(points)
    while rest:
        size = rng.randint(0, 50)
        chunks.append(rest[:size])
        rest = rest[size:]
    batch_size, max_bytes = rng.randint(1, 80), rng.randint(20, 3000)
    batches = list(rebatch(chunks, batch_size, max_bytes))
    assert [p for batch in batches for p in batch] == points   # all, in order
    for batch in batches:
        assert 1 <= len(batch) <= batch_size
        assert len(batch) == 1 or len(json_body(batch)) <= max_bytes
    for first, second in zip(batches, batches[1:]):   # cut only when the next would not fit
        assert (len(first) == batch_size
                or len(json_body(first + second[:1])) > max_bytes)


@pytest.mark.parametrize("points", [['"ab"', '"cd"', '"ef"'], ['"é"', '"ü"', '"ß"'],
                                    [b'"ab"', b'"cd"', b'"ef"']])
def test_a_body_of_exactly_the_cap_goes_whole_and_one_byte_less_cuts_it(points):
    exact = len(json_body(points) if isinstance(points[0], str) else b"[" + b",".join(points)
                + b"]")
    assert list(rebatch([points], 10, max_bytes=exact)) == [points]
    assert list(rebatch([points], 10, max_bytes=exact - 1)) == [points[:2], points[2:]]


def test_a_point_larger_than_the_cap_goes_alone():
    big = '"%s"' % ("x" * 100)
    assert list(rebatch([["1", big, "2"]], 10, max_bytes=20)) == [["1"], [big], ["2"]]


@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                          st.integers(-2 ** 70, 2 ** 70)), max_size=40))
def test_number_texts_read_back_as_the_same_numbers(values):
    texts = number_texts(values)
    back = [json.loads(text) for text in texts]
    # the same doubles and ints, each of its own type (a float stays a float)
    assert [(type(v), v) for v in back] == [(type(v), v) for v in values]
    assert texts == [format_value(v) for v in values]   # one spelling whichever path


@pytest.mark.parametrize("method, decode", [("gzip", gzip.decompress),
                                            ("deflate", zlib.decompress)])
@pytest.mark.parametrize("count", [0, 1, 2047, 2048, 5000])
def test_compressed_bodies_decode_to_the_json_array(method, decode, count):
    points = random_points(random.Random(count), count)   # several slices, non-ASCII too
    assert decode(encode_body(points, method)) == json_body(points)


@pytest.fixture(scope="module")
def small_vm():
    """VictoriaMetrics refusing insert bodies over 1 MB, as it does over 32 MiB by default."""
    with LocalVictoriaMetrics(extra_args=["-opentsdbhttp.maxInsertRequestSize=1MB"]) as vm:
        yield vm


def long_tagged(uid, count):
    now = int(time.time())
    tags = {"tag%d" % j: "value-%d-" % j + "x" * 40 for j in range(8)}
    return [DataPoint("long.tags", dict(tags, run=uid, i=str(i)), now, i) for i in range(count)]


def stored(vm, uid):
    vm.flush()
    answer = requests.get(vm.query_url + "/api/v1/series", timeout=30,
                          params={"match[]": 'long_tags{run="%s"}' % uid})
    return len(answer.json()["data"])


def test_byte_cap_splits_what_victoria_metrics_would_refuse(small_vm, uid):
    points = long_tagged(uid, 5000)   # about 2.6 MB of JSON in one 50,000-point batch
    Apptuit(api_endpoint=small_vm.put_endpoint, max_request_bytes=900_000).send(points)
    assert stored(small_vm, uid) == 5000


def test_without_the_cap_victoria_metrics_refuses_the_whole_batch(small_vm, uid):
    client = Apptuit(api_endpoint=small_vm.put_endpoint, max_request_bytes=None)
    with pytest.raises(ApptuitSendException) as info:
        client.send(long_tagged(uid, 5000))
    assert info.value.status_code == 400 and "too big" in str(info.value)
    assert stored(small_vm, uid) == 0


def test_max_request_bytes_must_be_positive():
    with pytest.raises(ValueError, match="max_request_bytes"):
        Apptuit(api_endpoint="http://127.0.0.1:1", max_request_bytes=0)
