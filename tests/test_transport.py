"""The transport reads the environment's proxy settings once a host, as requests
would on every request: a proxy in HTTP_PROXY still carries the points."""
import base64

from apptuit_like import Apptuit, DataPoint


def test_points_go_through_the_proxy_the_environment_names(fake, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", fake.endpoint)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = Apptuit(api_endpoint="http://metrics.example:4242")
    client.send([DataPoint("m", {"a": "b"}, 1700000000, 1.0)])
    client.send([DataPoint("m", {"a": "b"}, 1700000001, 2.0)])
    # a proxy is asked for the absolute URL
    assert [r["path"] for r in fake.requests] == ["http://metrics.example:4242/api/put?details"] * 2
    assert [p["value"] for p in fake.points()] == [1.0, 2.0]


def test_no_proxy_hosts_are_reached_directly(fake, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")   # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    Apptuit(api_endpoint=fake.endpoint).send([DataPoint("m", {"a": "b"}, 1700000000, 1.0)])
    assert fake.requests[0]["path"] == "/api/put?details"


def test_a_netrc_login_is_sent_with_every_post_and_each_post_has_its_own_length(
        fake, monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login ops password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = Apptuit(api_endpoint=fake.endpoint)
    client.send([DataPoint("m", {"a": "b"}, 1700000000, 1.0)])
    client.send([DataPoint("m", {"a": "b"}, 1700000001 + i, 2.0) for i in range(50)])
    basic = "Basic " + base64.b64encode(b"ops:s3cret").decode()
    assert [r["headers"]["Authorization"] for r in fake.requests] == [basic, basic]
    lengths = [int(r["headers"]["Content-Length"]) for r in fake.requests]
    assert lengths[0] < lengths[1] and len(fake.points()) == 51
