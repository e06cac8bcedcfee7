import random

import pytest
from apptuit import utils as reference  # apptuit 2.4.2, a test-only dependency

from apptuit_like import Apptuit
from apptuit_like._sanitize import get_sanitizer, is_valid_name
from apptuit_like.utils import sanitize_name_apptuit, sanitize_name_prometheus

CORPUS = ["node.cpu", "7xx.errors", "a__b..c", "__x__", "http-requests/total", "Zeit Straße",
          "név.értek", "a%b^c$d", "9", "_", "über_μs", "x\ty\nz", "a--b..c//d", "___7",
          "日本語.メトリクス", "trailing.", "a b  c"]


def random_names(count=2000, seed=7):
    rng = random.Random(seed)
    alphabet = "abcXYZ0189_.-/ %ßéü日\t:"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
            for _ in range(count)]


@pytest.mark.parametrize("ours, theirs", [
    (sanitize_name_prometheus, reference.sanitize_name_prometheus),
    (sanitize_name_apptuit, reference.sanitize_name_apptuit)])
def test_same_names_as_apptuit_2_4_2(ours, theirs):
    for name in CORPUS + random_names():
        assert ours(name) == theirs(name), name


def test_prometheus_rules():
    assert sanitize_name_prometheus("7xx.http__errors-total") == "_7xx_http_errors_total"
    assert sanitize_name_prometheus("Zeit/Straße") == "Zeit_Stra_e"
    for name in random_names(500, seed=3):
        clean = sanitize_name_prometheus(name)
        assert all(c.isascii() and (c.isalnum() or c == "_") for c in clean)
        assert "__" not in clean and not clean[0].isdigit()


def test_apptuit_rules_keep_unicode_letters_and_separators():
    assert sanitize_name_apptuit("proc.cpu%user  Zeit/Straße-x") == "proc.cpu_user_Zeit/Straße-x"
    assert sanitize_name_apptuit("a__b") == "a_b"


def test_sanitizers_keep_empty_names_as_apptuit_does_and_reject_non_strings():
    assert sanitize_name_prometheus("") == sanitize_name_apptuit("") == ""
    for bad in (None, 5):
        with pytest.raises(ValueError):
            sanitize_name_prometheus(bad)


def test_mode_none_keeps_valid_names_and_refuses_invalid_ones():
    check = get_sanitizer(None)
    assert check("node.cpu/user-time_x") == "node.cpu/user-time_x"
    with pytest.raises(ValueError, match="node cpu"):
        check("node cpu")
    assert is_valid_name("Straße.x") and not is_valid_name("a:b")


def test_modes_are_case_insensitive_and_unknown_modes_fail():
    assert get_sanitizer("Prometheus") is sanitize_name_prometheus
    with pytest.raises(ValueError, match="graphite"):
        get_sanitizer("graphite")
    with pytest.raises(ValueError, match="graphite"):
        Apptuit(api_endpoint="http://127.0.0.1:1", sanitize_mode="graphite")
