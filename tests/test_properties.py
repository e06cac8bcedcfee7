"""Hostile input, generated: the client, the metric-key codec and `apptuit-like send`.

The property everywhere: a clear ValueError naming the metric, or VictoriaMetrics
stores exactly what the documented sanitizing says. Never a traceback, a silent
loss or a malformed request. Each client example is read back from the real TSDB
through a tag unique to it.
"""
import decimal
import json
import math
import os
import subprocess
import sys
import time
import uuid

import numpy
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apptuit_like import Apptuit, DataPoint
from apptuit_like.timeseries import decode_metric, encode_metric
from apptuit_like.utils import sanitize_name_prometheus

pytestmark = pytest.mark.slow   # a few hundred examples: the default Python's run only
NOW = int(time.time())
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
EXAMPLES = {"client": 0, "codec": 0, "send": 0}   # counted for RELIABILITY.md
OUTCOMES = {"stored": 0, "refused": 0}

names = st.text(min_size=1, max_size=40)   # any unicode, control characters included
tag_values = st.text(min_size=0, max_size=30)
values = st.one_of(
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30), st.floats(), st.booleans(),
    st.just(-0.0), st.decimals(allow_nan=True), st.just("3.25"), st.just("abc"),
    st.builds(numpy.float32, st.floats(width=32)), st.builds(numpy.int64, st.integers(
        min_value=-(2 ** 63), max_value=2 ** 63 - 1)), st.none())
timestamps = st.one_of(st.integers(min_value=NOW - 86400, max_value=NOW),
                       st.just(NOW * 1000), st.integers(max_value=-1), st.none())


def exported(vm, case):
    vm.flush()
    answer = requests.get(vm.query_url + "/api/v1/export", timeout=30,
                          params={"match[]": '{case="%s"}' % case, "end": NOW + 60})
    return [json.loads(line) for line in answer.text.split("\n") if line]


def expected_value(value):
    return float(value)


@SETTINGS
@given(metric=names, tags=st.dictionaries(names, tag_values, max_size=30), value=values,
       timestamp=timestamps)
def test_client_stores_exactly_or_refuses_naming_the_metric(vm, metric, tags, value,
                                                           timestamp):
    EXAMPLES["client"] += 1
    case = uuid.uuid4().hex
    tags = dict(tags, case=case)
    client = Apptuit(api_endpoint=vm.put_endpoint)
    try:
        client.send([DataPoint(metric, tags, timestamp, value)])
    except ValueError as err:
        assert metric in str(err) or repr(metric)[1:-1] in str(err), str(err)
        OUTCOMES["refused"] += 1
        return
    OUTCOMES["stored"] += 1
    # accepted: what was stored is the sanitized name, the sanitized keys, the value
    (row,) = exported(vm, case)
    labels = dict(row["metric"])
    assert labels.pop("__name__") == sanitize_name_prometheus(metric)
    assert labels == {sanitize_name_prometheus(k): v for k, v in tags.items()}
    stored = row["values"][0]
    want = expected_value(value)
    # the client sends repr(value), exact; VictoriaMetrics keeps about 15 significant
    # digits (seen: 6.942078866850047e-91 stored as 6.942078866849999e-91)
    assert math.isfinite(want) and (stored == want or math.isclose(stored, want,
                                                                   rel_tol=1e-13))
    # seconds are stored as milliseconds; milliseconds (from 1e10 on) as given
    assert row["timestamps"] == [int(timestamp) if timestamp >= 1e10 else int(timestamp) * 1000]


def test_values_and_timestamps_the_property_relies_on():
    """The strategies reach both outcomes: kept values and refused ones."""
    assert DataPoint("m", {"a": "b"}, NOW, decimal.Decimal("1.5")).value == 1.5
    assert DataPoint("m", {"a": "b"}, NOW, numpy.int64(7)).value == 7.0
    for bad in ("abc", None):
        with pytest.raises(ValueError, match="m"):
            DataPoint("m", {"a": "b"}, NOW, bad)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(metric=st.text(min_size=1).filter(lambda s: "{" not in s),
       tags=st.dictionaries(st.text(min_size=1), st.text(), min_size=1))
def test_encode_decode_round_trip(metric, tags):
    """Exact, except that surrounding whitespace leaves the name (as in apptuit-py)
    and a name of nothing but whitespace is refused, naming the key."""
    EXAMPLES["codec"] += 1
    key = encode_metric(metric, tags)
    if not metric.strip():
        with pytest.raises(ValueError, match="metric key"):
            decode_metric(key)
    else:
        assert decode_metric(key) == (metric.strip(), tags)


garbage = st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode),
                    st.just(b'[{"metric": "a", "timestamp": 1, "value": 1, "tags": {'),
                    st.just(b"\xff\xfe\x00put x 1 1 k=v\n"),
                    st.just(b"put " + b"x" * 10_000_000 + b" 1 1 k=v\n"))


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(junk=garbage)
def test_send_command_survives_any_input_and_keeps_the_good_lines(vm, junk):
    EXAMPLES["send"] += 1
    case = uuid.uuid4().hex
    good = ("put good.line %d 5 case=%s\n" % (NOW, case)).encode()
    done = subprocess.run([sys.executable, "-m", "apptuit_like", "send", "--endpoint",
                           vm.put_endpoint], input=good + junk + b"\n" + good,
                          capture_output=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert b"Traceback" not in done.stderr, done.stderr[-2000:]
    assert b"sent " in done.stdout
    if not junk.lstrip().startswith(b"["):   # else the whole text is one JSON array
        assert [row["values"] for row in exported(vm, case)] in ([[5, 5]], [[5]])


@pytest.fixture(scope="module", autouse=True)
def count_examples():
    """With APPTUIT_LIKE_RELIABILITY_DIR set, leave the example counts for RELIABILITY.md."""
    yield
    folder = os.environ.get("APPTUIT_LIKE_RELIABILITY_DIR")
    if folder:
        with open(os.path.join(folder, "fuzz.json"), "w") as out:
            json.dump({"examples": EXAMPLES, "client_outcomes": OUTCOMES}, out)


def test_the_client_property_saw_both_outcomes():
    """Runs after the property above (file order): neither branch may be dead."""
    if EXAMPLES["client"]:
        assert OUTCOMES["stored"] >= 5 and OUTCOMES["refused"] >= 5, OUTCOMES
