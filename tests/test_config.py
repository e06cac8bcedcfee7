import pytest

from apptuit_like import Apptuit, ApptuitException
from apptuit_like._config import env_flag, parse_tags, read_timeout


def test_missing_token_for_hosted_endpoint_says_how_to_set_it():
    with pytest.raises(ApptuitException) as info:
        Apptuit()
    assert isinstance(info.value, ValueError)
    assert "APPTUIT_API_TOKEN" in str(info.value) and "token=" in str(info.value)


def test_token_from_argument_then_environment(monkeypatch):
    monkeypatch.setenv("APPTUIT_API_TOKEN", "from-env")
    assert Apptuit().token == "from-env"
    assert Apptuit(token="arg").token == "arg"


def test_deprecated_token_variable_warns(monkeypatch):
    monkeypatch.setenv("APPTUIT_PY_TOKEN", "old")
    with pytest.warns(DeprecationWarning, match="APPTUIT_PY_TOKEN"):
        assert Apptuit().token == "old"


def test_no_token_is_fine_for_other_endpoints():
    assert Apptuit(api_endpoint="http://127.0.0.1:4242").token is None


def test_endpoint_from_environment_and_validation(monkeypatch):
    monkeypatch.setenv("APPTUIT_API_ENDPOINT", "http://vminsert:4242/insert/0/opentsdb/")
    client = Apptuit()
    assert client.put_apiurl == "http://vminsert:4242/insert/0/opentsdb/api/put?details"
    assert client.query_endpoint == "http://vminsert:4242/insert/0/opentsdb"
    with pytest.raises(ValueError, match="ftp://x"):
        Apptuit(api_endpoint="ftp://x")


def test_query_endpoint_from_argument_or_environment(monkeypatch):
    assert Apptuit(api_endpoint="http://a:1", query_endpoint="http://b:2/").query_endpoint \
        == "http://b:2"
    monkeypatch.setenv("APPTUIT_QUERY_ENDPOINT", "http://c:3")
    assert Apptuit(api_endpoint="http://a:1").query_endpoint == "http://c:3"


def test_global_tags_argument_beats_environment(monkeypatch):
    monkeypatch.setenv("APPTUIT_TAGS", "k1: v1, k2:v2")
    assert Apptuit(api_endpoint="http://a:1").global_tags == {"k1": "v1", "k2": "v2"}
    assert Apptuit(api_endpoint="http://a:1", global_tags={"x": "y"}).global_tags == {"x": "y"}
    assert Apptuit(api_endpoint="http://a:1", ignore_environ_tags=True).global_tags == {}


@pytest.mark.parametrize("text", ["k1:v1, broken", "k1", ":v", "a:b:c", "k1: "])
def test_malformed_apptuit_tags_raise_quoting_the_value(monkeypatch, text):
    monkeypatch.setenv("APPTUIT_TAGS", text)
    with pytest.raises(ValueError) as info:
        Apptuit(api_endpoint="http://a:1")
    assert repr(text) in str(info.value)


def test_parse_tags_tolerates_spaces_and_trailing_commas():
    assert parse_tags(" a : 1 ,b:2,, ") == {"a": "1", "b": "2"}


def test_timeout_argument_environment_default(monkeypatch):
    assert read_timeout(None) == 60.0
    monkeypatch.setenv("APPTUIT_TIMEOUT", "2.5")
    assert Apptuit(api_endpoint="http://a:1").timeout == 2.5
    assert Apptuit(api_endpoint="http://a:1", timeout=7).timeout == 7.0
    monkeypatch.setenv("APPTUIT_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="APPTUIT_TIMEOUT"):
        Apptuit(api_endpoint="http://a:1")
    with pytest.raises(ValueError):
        read_timeout(0)


def test_env_flag_values():
    assert [env_flag("X", {"X": v}) for v in ("1", "TRUE", "on", "0", "no", "")] == \
        [True, True, True, False, False, False]
    with pytest.raises(ValueError, match="maybe"):
        env_flag("X", {"X": "maybe"})


def test_disabled_client_needs_no_token(monkeypatch):
    monkeypatch.setenv("APPTUIT_DISABLED", "1")
    assert Apptuit().disabled


def test_invalid_options_raise_value_errors():
    for kwargs in ({"compression": "brotli"}, {"batch_size": 0}):
        with pytest.raises(ValueError, match=str(list(kwargs.values())[0])):
            Apptuit(api_endpoint="http://a:1", **kwargs)
