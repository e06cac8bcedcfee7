"""Reading points from text: telnet lines, JSON lines, JSON arrays, and bad input."""
import json

import pytest

from apptuit_like._encoding import is_plain, render_checked, render_plain
from apptuit_like._cli.point_input import InputError, parse_tags, read_records


def records(text, source=None):
    return list(read_records(text.splitlines(True), source))


def test_telnet_lines_keep_raw_tags_and_accept_milliseconds():
    got = records("put cpu 1700000000 0.5 host=a  core=0\nput cpu 1700000000250 -2e3\n")
    # milliseconds stay as given: the encoder sends them as ms or whole seconds
    assert got == [(1, "cpu", "host=a  core=0", 1700000000, 0.5, None),
                   (2, "cpu", "", 1700000000250, -2000.0, None)]


def test_json_array_spanning_lines_numbers_its_items():
    text = json.dumps([{"metric": "m", "timestamp": 1, "value": 2, "tags": {"a": "b"}},
                       {"metric": "", "timestamp": 1, "value": 2}, 7], indent=2)
    got = records(text, "in.json")
    assert got[0] == (1, "m", {"a": "b"}, 1, 2, "in.json")
    assert [str(e) for e in got[1:]] == [
        'in.json, line 2: missing or empty "metric" in {"metric": "", "timestamp": 1, '
        '"value": 2}',
        "in.json, line 3: expected a JSON object with metric, timestamp, value and tags, "
        "got '7'"]


@pytest.mark.parametrize("line, message", [
    ("cpu 1 2 host=a", "expected 'put <metric> <timestamp> <value> <tag>=<value> ...'"),
    ("put cpu 1", "expected 'put <metric>"),
    ("put cpu soon 2 host=a", "timestamp 'soon' is not a number"),
    ("put cpu 1 NaNa host=a", "value 'NaNa' of cpu is not a number"),
    ('{"metric": "m", "timestamp": true, "value": 1}', "timestamp True of m is not a number"),
    ('{"metric": "m", "tags": ["a"]}', '"tags" of m must be an object'),
    ('{"metric": ', "not valid JSON"),
    ("[1, 2", "the JSON array does not parse"),
])
def test_bad_lines_become_errors_with_their_line_number(line, message):
    error, = records("\n# comment\n" + line + "\n")
    assert isinstance(error, InputError) and isinstance(error, ValueError)
    assert error.line == 3 and str(error).startswith("line 3: ") and message in str(error)


def test_parse_tags_refuses_pairs_without_a_value():
    assert parse_tags("a=1 b=x=y") == {"a": "1", "b": "x=y"}
    with pytest.raises(InputError, match="f.txt, line 4: tag 'b=' is not <key>=<value>"):
        parse_tags("a=1 b=", 4, "f.txt")


@pytest.mark.parametrize("stamps, values, plain", [
    ([1700000000, 1700000001], [0.5, 2], True),
    ([1700000000.0], [0.5], False),             # float timestamps: checked one by one
    ([1700000000], [True], False),              # booleans are not numbers here
    ([1700000000, 1], [0.5, float("inf")], False),
    ([], [], False),
])
def test_plain_series_render_exactly_like_the_checked_path(stamps, values, plain):
    head = '{"metric":"m","tags":{"a":"100%"},"value":'
    assert is_plain(stamps, values) is plain
    if plain:
        assert render_plain(head, stamps, values) == render_checked(head, "m", stamps, values)
    elif values and values[-1] == float("inf"):
        with pytest.raises(ValueError, match="Invalid value inf for m"):
            render_checked(head, "m", stamps, values)


def test_json_line_without_timestamp_says_so():
    (error,) = read_records(['{"metric": "cpu", "value": 1, "tags": {"h": "a"}}'])
    assert isinstance(error, InputError) and 'no "timestamp" for cpu' in str(error)
