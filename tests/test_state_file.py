"""State files: what a member writes is what the sender reads back and merges."""
import pytest
from pyformance import MetricsRegistry

from apptuit_like.pyformance._merge import Merger, check_state, snapshot
from apptuit_like.pyformance._state_file import FORMAT, Section, decode, encode
from apptuit_like.timeseries import encode_metric

HEADER = {"format": FORMAT, "member": "1-ab", "pid": 1, "written": 2.0}


def read_back(registry, check=True, user=None):
    """The user part of ``registry``'s state file (or of the snapshot ``user``), as
    the sender reads it (checked: samples decoded in place)."""
    text = encode(HEADER, {"user": user or snapshot(registry),
                           "meta": snapshot(MetricsRegistry()), "rows": []})
    state = decode(text)["state"]
    if check:
        check_state(state["user"])
    return state["user"]


def registry_of(keys, count):
    registry = MetricsRegistry()
    for key in keys:
        registry.counter(key).inc(count)
        registry.timer("t." + key)._update(count / 10)
    return registry


def test_sections_read_as_the_mappings_written():
    registry = registry_of([encode_metric("orders", {"city": "blr"}), "plain"], 3)
    written = snapshot(registry)
    state = read_back(registry, check=False, user=written)
    for kind in ("counter", "timer"):
        assert isinstance(state[kind], Section)
        assert dict(state[kind]) == written[kind] and len(state[kind]) == 2
    assert state["counter"]["plain"] == 3 and "missing" not in state["counter"]


def test_members_with_the_same_keys_merge_without_a_dict_per_section():
    keys = ["k%d" % i for i in range(50)]
    states = [read_back(registry_of(keys, n)) for n in (1, 2, 3)]
    view = Merger().merge([(str(i), 2.0, s) for i, s in enumerate(states)], {})
    assert [view._counters[key].counter for key in keys] == [6] * 50
    assert view._timers["t.k7"].values[2] == 3   # the timer's count over the members
    assert all(s[kind]._dict is None for s in states for kind in ("counter", "timer"))


def test_members_with_keys_in_other_orders_or_of_their_own_still_merge():
    first = read_back(registry_of(["a", "b", "c"], 1))
    second = read_back(registry_of(["c", "a", "d"], 10))
    view = Merger().merge([("1", 2.0, first), ("2", 2.0, second)], {})
    assert {k: c.counter for k, c in view._counters.items()} == {"a": 11, "b": 1, "c": 11,
                                                                   "d": 10}


@pytest.mark.parametrize("keys", [[["not", "a", "string"]], [1], "abc"])
def test_keys_that_are_not_strings_are_refused(keys):
    line = ('{"format":"%s","rows":[],"keys":%s,"values":{"user":{"counter":[1],"meter":[],'
            '"histogram":[],"timer":[],"gauge":[]},"meta":{"counter":[],"meter":[],'
            '"histogram":[],"timer":[],"gauge":[]}}}' % (FORMAT, _json(keys)))
    with pytest.raises(ValueError, match="bad keys"):
        decode(line)


def _json(value):
    import json
    return json.dumps(value)


def _odd(kind):
    """A registry's state with one value that orjson cannot write as json does."""
    import math
    registry = registry_of(["a", "b"], 2)
    state = {"user": snapshot(registry), "meta": snapshot(MetricsRegistry()), "rows": []}
    if kind == "huge int":
        state["user"]["counter"]["a"] = 10 ** 30
    elif kind == "inf sum":
        state["user"]["timer"]["t.a"][1] = math.inf
    elif kind == "nan rate":
        state["user"]["timer"]["t.b"][7] = math.nan
    elif kind == "row text":
        state["rows"] = [["python.version", {"v": "3"}, "3.11"]]
    elif kind == "lone surrogate":
        state["user"]["counter"]["bad\udcffkey"] = 1
    return state


@pytest.mark.parametrize("kind", ["plain", "huge int", "inf sum", "nan rate", "row text",
                                  "lone surrogate"])
def test_every_state_reads_back_as_written(kind):
    import math
    state = _odd(kind)
    back = decode(encode(HEADER, state))["state"]
    assert back["rows"] == state["rows"]
    for kind_ in ("counter", "meter", "timer", "gauge"):
        got, want = dict(back["user"][kind_]), state["user"][kind_]
        assert list(got) == list(want)
        for key, value in want.items():   # NaN != NaN: compared by their text
            assert repr(got[key]) == repr(value), (kind_, key)
    assert not math.isnan(back["user"]["timer"]["t.a"][7])
