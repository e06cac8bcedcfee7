"""The global tags rendered once per metric (in its name parts), not once per key:
every point still carries exactly the merged, sanitized tags, a key's own tag
replacing a global one included, and never a tag twice."""
import json

import pytest
from hypothesis import given, strategies as st

from apptuit_like._sanitize import clean_series, get_sanitizer
from apptuit_like.pyformance import MetricsRegistry
from apptuit_like.pyformance._collect import Collector
from apptuit_like.timeseries import decode_metric, encode_metric


def _no_twice(pairs):
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), "a tag twice: %r" % (pairs,)
    return dict(pairs)


def _points(collector, registry):
    points, invalid = collector.collect(registry, 1700000000)
    assert invalid == 0
    return [json.loads(point, object_pairs_hook=_no_twice) for point in points]


_TEXT = st.text(st.characters(min_codepoint=48, max_codepoint=0x24F), min_size=1, max_size=6)
_TAGS = st.dictionaries(st.sampled_from(["host", "ho.st", "ho_st", "city", "le", "a"]),
                        _TEXT, max_size=3)


@given(globals_=_TAGS, own=_TAGS)
def test_each_point_carries_the_merged_tags_once(globals_, own):
    sanitize = get_sanitizer("prometheus")
    key = encode_metric("orders", own)
    merged = dict(globals_, **decode_metric(key)[1])   # as the key holds them, in order
    if not merged:
        return
    registry = MetricsRegistry()
    registry.counter(key).inc(3)
    point, = _points(Collector("", globals_, sanitize), registry)
    assert point["tags"] == clean_series("orders", merged, sanitize)[1]
    assert point["value"] == 3 and point["metric"] == "orders_count"


@pytest.mark.parametrize("mode", ["le", "vmrange"])
def test_buckets_keep_their_own_label_even_where_a_global_tag_has_its_name(mode):
    sanitize = get_sanitizer("prometheus")
    collector = Collector("", {"host": "h", mode: "global"}, sanitize,
                          histogram_buckets=mode)
    registry = MetricsRegistry()
    for value in (0.001, 0.02, 0.5):
        registry.histogram(encode_metric("lat", {"route": "/a"})).add(value)
    points = _points(collector, registry)
    buckets = [p for p in points if p["metric"] == "lat_bucket"]
    assert buckets and all(p["tags"][mode] != "global" for p in buckets)
    assert all(p["tags"]["host"] == "h" and p["tags"]["route"] == "/a" for p in points)
    others = [p for p in points if p["metric"] != "lat_bucket"]
    assert others and all(p["tags"][mode] == "global" for p in others)


def test_the_global_tags_are_rendered_once_per_metric():
    collector = Collector("", {"host": "h", "service": "s"}, get_sanitizer("prometheus"))
    registry = MetricsRegistry()
    registry.counter(encode_metric("orders", {"city": "c1"})).inc()
    registry.counter(encode_metric("orders", {"city": "c2", "host": "own"})).inc()
    _points(collector, registry)
    view = collector._views["counter"]
    plain, replaced = view.tags
    assert "host" not in plain and "service" not in plain and '"c1"' in plain
    assert '"host":"own"' in replaced and '"service":"s"' in replaced
