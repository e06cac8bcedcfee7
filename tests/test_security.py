"""TLS on by default, an explicit and loud opt-out, and a token that never leaks."""
import logging
from http.server import BaseHTTPRequestHandler

import pytest
from pyformance import MetricsRegistry

from apptuit_like import Apptuit, ApptuitException, DataPoint
from apptuit_like.pyformance import ApptuitReporter
from servers import Reply, serve_tls

TOKEN = "tok-SECRET-5f3a9c"


class _Accept(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def https(tmp_path_factory):
    """An HTTPS server on loopback with a self-signed certificate: (endpoint, cert path)."""
    server, endpoint, cert = serve_tls(tmp_path_factory.mktemp("tls"), _Accept)
    yield endpoint, cert
    server.shutdown()
    server.server_close()


def point():
    return DataPoint("tls.check", {"k": "v"}, 1700000000, 1.0)


def test_a_self_signed_server_is_refused_by_default_with_a_clear_tls_error(https):
    endpoint, _ = https
    with pytest.raises(ApptuitException) as info:
        Apptuit(token=TOKEN, api_endpoint=endpoint).send([point()])
    assert "TLS" in str(info.value) and "certificate" in str(info.value).lower()
    calls = []
    registry = MetricsRegistry()
    registry.counter("c").inc()
    reporter = ApptuitReporter(registry=registry, token=TOKEN, api_endpoint=endpoint,
                               error_handler=lambda *args: calls.append(args))
    with pytest.raises(ApptuitException):
        reporter.report_now()
    (status, _, failed, errors), = calls
    assert status is None and failed > 0 and "TLS error" in errors[0]["error"]


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_is_an_explicit_opt_in_that_warns_once(https, caplog):
    endpoint, _ = https
    with caplog.at_level(logging.WARNING, logger="apptuit_like"):
        client = Apptuit(token=TOKEN, api_endpoint=endpoint, verify=False)
        client.send([point()])
        client.send([point()])
    warnings = [r.getMessage() for r in caplog.records if r.name == "apptuit_like"]
    assert len(warnings) == 1 and "verification is off" in warnings[0]


def test_a_private_ca_bundle_verifies_without_warning(https, caplog):
    endpoint, cert = https
    with caplog.at_level(logging.WARNING, logger="apptuit_like"):
        Apptuit(token=TOKEN, api_endpoint=endpoint, verify=cert).send([point()])
    assert not [r for r in caplog.records if r.name == "apptuit_like"]


def test_the_token_appears_nowhere_but_in_the_authorization_header(fake, refused_endpoint,
                                                                   caplog):
    seen = []
    registry = MetricsRegistry()
    registry.counter("c").inc()
    details = {"success": 0, "failed": 1, "errors": [{"datapoint": "c", "error": "bad"}]}
    with caplog.at_level(logging.DEBUG):   # every logger, urllib3's included
        for reply in (Reply(400, details), Reply(401, {"error": "bad token"}), Reply(503)):
            fake.script(reply)
            for target in (fake.endpoint, refused_endpoint):
                client = Apptuit(token=TOKEN, api_endpoint=target)
                reporter = ApptuitReporter(registry=registry, token=TOKEN, api_endpoint=target,
                                           error_handler=lambda *args: seen.append(repr(args)))
                seen += [repr(client), repr(reporter), str(client.transport.__dict__.get(
                    "url", ""))]
                for call in (lambda: client.send([point()]), reporter.report_now):
                    try:
                        call()
                    except ApptuitException as err:
                        seen += [str(err), repr(err), repr(err.args)]
    seen += [record.getMessage() for record in caplog.records]
    # urllib3 logs each connection requests opens
    assert len(caplog.records) > 5 and any("urllib3" in r.name for r in caplog.records)
    assert [text for text in seen if TOKEN in text] == []
    assert fake.requests[0]["headers"]["Authorization"] == "Bearer " + TOKEN


def test_plain_http_to_a_tls_port_says_to_try_https(https):
    endpoint, _ = https
    plain = endpoint.replace("https://", "http://")
    with pytest.raises(ApptuitException) as info:
        Apptuit(api_endpoint=plain).send([point()])
    assert "if it speaks TLS, use https://" in str(info.value), str(info.value)
