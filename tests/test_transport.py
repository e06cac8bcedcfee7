"""Every request goes through requests, which reads the environment on each one:
proxies, NO_PROXY, ~/.netrc; and users' mocks of requests see every put."""
import base64

import requests
import responses

from apptuit_like import Apptuit, DataPoint
from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry


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


def test_a_proxy_set_after_the_first_send_is_used_by_the_next(fake, own_proxy, monkeypatch):
    client = Apptuit(api_endpoint=fake.endpoint)
    client.send([DataPoint("m", {"a": "b"}, 1700000000, 1.0)])
    monkeypatch.setenv("HTTP_PROXY", own_proxy.endpoint)
    client.send([DataPoint("m", {"a": "b"}, 1700000001, 2.0)])
    assert [p["value"] for p in fake.points()] == [1.0]
    assert [r["path"] for r in own_proxy.requests] == [fake.endpoint + "/api/put?details"]


def test_a_token_is_not_replaced_by_a_netrc_login(fake, monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login ops password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    Apptuit(token="t0k", api_endpoint=fake.endpoint).send([DataPoint("m", {"a": "b"}, 1, 1.0)])
    assert fake.requests[0]["headers"]["Authorization"] == "Bearer t0k"


def test_a_responses_mock_sees_every_put_even_where_a_real_server_listens(fake):
    """Users' test suites mock requests; nothing of ours goes around it."""
    registry = MetricsRegistry()
    registry.counter("orders").inc(3)
    reporter = ApptuitReporter(registry=registry, api_endpoint=fake.endpoint,
                               tags={"service": "shop"})
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, fake.endpoint + "/api/put", status=204)
        Apptuit(api_endpoint=fake.endpoint).send([DataPoint("m", {"a": "b"}, 1, 1.0)])
        reporter.report_now()
        assert len(mock.calls) == 2
    assert fake.requests == []


def test_an_adapter_mounted_on_the_session_carries_the_puts(fake):
    sent = []

    class Recording(requests.adapters.HTTPAdapter):
        def send(self, request, **options):
            sent.append(request.url)
            return super().send(request, **options)
    client = Apptuit(api_endpoint=fake.endpoint)
    client.session.mount("http://", Recording())
    client.send([DataPoint("m", {"a": "b"}, 1, 1.0)])
    assert sent == [fake.endpoint + "/api/put?details"] and len(fake.points()) == 1
