"""Puts over kept-alive sockets (keep_alive.py), and every case it
hands back to requests: a connection the server closed meanwhile, a redirect, a
proxy; timeouts raised once, as requests' classes. Real servers on loopback."""
import gzip
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from apptuit_like import Apptuit, ApptuitSendException, ApptuitTimeout, DataPoint
from servers import Reply, serve_tls


def point(value=1.0):
    return DataPoint("keep.alive", {"k": "v"}, 1700000000, value)


class RawServer:
    """A socket server whose handler gets each accepted connection; counts them."""

    def __init__(self, handle):
        self.accepted = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.endpoint = "http://127.0.0.1:%d" % self._socket.getsockname()[1]
        self._handle = handle
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def close(self):
        self._socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def read_request(connection):
    """One request's head and body, read from a connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += connection.recv(65536)
    return head


def answer_once(heads, reply):
    """A handler that reads one request's head into ``heads``, answers ``reply`` and
    closes the connection."""
    def handle(connection):
        with connection:
            heads.append(read_request(connection))
            connection.sendall(reply)
    return handle


def test_puts_ride_one_kept_alive_connection(fake):
    client = Apptuit(api_endpoint=fake.endpoint)
    for value in range(3):
        client.send([point(value)])
    assert [r["method"] for r in fake.requests] == ["POST"] * 3
    assert len({r["client_port"] for r in fake.requests}) == 1   # one connection
    assert fake.requests[0]["headers"]["Accept-Encoding"] == "identity"
    idle = client.transport._quick._idle
    assert len(idle) == 1   # no Nagle delay between the head and the body:
    assert idle[0].sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_a_connection_the_server_closed_meanwhile_is_replaced_and_nothing_is_lost():
    heads = []   # keep-alive promised, then the connection closed
    with RawServer(answer_once(heads, b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                   ) as server:
        client = Apptuit(api_endpoint=server.endpoint)
        client.send([point(1)])
        time.sleep(0.05)   # the server's close has arrived
        client.send([point(2)])   # the idle connection is dead: requests sends it
        assert len(heads) == 2 and server.accepted == 2


def test_a_silent_server_times_out_once_as_a_read_timeout():
    def never_answer(connection):
        read_request(connection)
        time.sleep(5)
        connection.close()
    with RawServer(never_answer) as server:
        client = Apptuit(api_endpoint=server.endpoint, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(ApptuitTimeout) as raised:
            client.send([point()])
        assert isinstance(raised.value, requests.exceptions.ReadTimeout)
        assert time.monotonic() - started < 1.5   # one timeout, not a second try
        assert server.accepted == 1


def test_a_kept_connection_takes_each_puts_own_timeout():
    def answer_then_stall(connection):
        with connection:
            read_request(connection)
            connection.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            read_request(connection)
            time.sleep(5)
    with RawServer(answer_then_stall) as server:
        client = Apptuit(api_endpoint=server.endpoint, timeout=30)
        client.send([point(1)])
        assert len(client.transport._quick._idle) == 1   # answered, and kept
        client.timeout = 0.3   # e.g. a final flush bounded by its deadline
        started = time.monotonic()
        with pytest.raises(ApptuitTimeout):
            client.send([point(2)])
        assert time.monotonic() - started < 3   # the kept socket's old 30 s timed out
        assert server.accepted == 1


def test_a_redirect_is_followed_by_requests(fake):
    moved = Reply(307, headers={"Location": fake.endpoint + "/moved/api/put"})
    fake.script(moved, moved)   # to the lean path, then to requests, which follows it
    Apptuit(api_endpoint=fake.endpoint).send([point()])
    assert [r["path"] for r in fake.requests] == ["/api/put?details"] * 2 + ["/moved/api/put"]
    assert fake.requests[2]["json"][0]["metric"] == "keep_alive"


def test_a_proxy_from_the_environment_carries_the_puts(fake, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", fake.endpoint)   # the fake stands in as the proxy
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = Apptuit(api_endpoint="http://metrics.invalid:4242")
    client.send([point()])
    assert fake.requests[0]["path"] == "http://metrics.invalid:4242/api/put?details"
    assert client.transport._quick is None


class _KeepAliveTLS(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ports = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.ports.append(self.client_address[1])
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_https_verified_against_a_ca_bundle_keeps_its_connection(tmp_path):
    server, endpoint, cert = serve_tls(tmp_path, _KeepAliveTLS)
    try:
        client = Apptuit(api_endpoint=endpoint, verify=cert)
        client.send([point(1)])
        client.send([point(2)])
        assert len(_KeepAliveTLS.ports) == 2 and len(set(_KeepAliveTLS.ports)) == 1
        assert len(client.transport._quick._idle) == 1
    finally:
        server.shutdown()
        server.server_close()


_DETAILS = b'{"success": 0, "failed": 1, "errors": [{"datapoint": {}, "error": "bad value"}]}'


def _framed(head, body):
    return head + b"\r\n\r\n" + body


def _chunked(body):
    return b"".join(b"%x;ext=1\r\n%s\r\n" % (len(part), part)
                    for part in (body[:10], body[10:])) + b"0\r\nX-Trailer: 1\r\n\r\n"


ANSWERS = {
    "content-length": _framed(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json"
                              b"\r\nContent-Length: %d" % len(_DETAILS), _DETAILS),
    "chunked": _framed(b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked",
                       _chunked(_DETAILS)),
    "to the close": _framed(b"HTTP/1.0 400 Bad Request\r\nContent-Type: application/json",
                            _DETAILS),
    "gzip": _framed(b"HTTP/1.1 400 Bad Request\r\nContent-Encoding: gzip\r\nContent-Length: %d"
                    % len(gzip.compress(_DETAILS)), gzip.compress(_DETAILS)),
    "after 100 Continue": _framed(b"HTTP/1.1 100 Continue", b"") + _framed(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d" % len(_DETAILS), _DETAILS),
}


@pytest.mark.parametrize("framing", sorted(ANSWERS))
def test_an_answer_in_any_framing_is_read_on_the_lean_path(framing):
    heads = []

    def answer(connection):
        with connection:
            heads.append(read_request(connection))
            connection.sendall(ANSWERS[framing])
            if framing != "to the close":
                connection.recv(1)   # keep the connection until the client closes it
    with RawServer(answer) as server:
        with pytest.raises(ApptuitSendException) as raised:
            Apptuit(api_endpoint=server.endpoint).send([point()])
        assert (raised.value.status_code, raised.value.failed) == (400, 1)
        assert raised.value.errors[0]["error"] == "bad value"
        assert len(heads) == 1   # read here, not sent again through requests
        assert heads[0].startswith(b"POST /api/put?details HTTP/1.1\r\nHost: 127.0.0.1:")


def test_connection_close_is_honoured_and_the_next_put_reconnects():
    heads = []
    with RawServer(answer_once(heads, b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                   ) as server:
        client = Apptuit(api_endpoint=server.endpoint)
        client.send([point(1)])
        assert client.transport._quick._idle == []
        client.send([point(2)])
        assert len(heads) == 2 and server.accepted == 2


def test_an_answer_it_cannot_read_is_asked_again_through_requests():
    heads = []

    def garbage_then_204(connection):
        with connection:
            heads.append(read_request(connection))
            if len(heads) == 1:
                connection.sendall(b"HELLO THERE\r\n\r\n")
            else:
                connection.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                connection.recv(1)
    with RawServer(garbage_then_204) as server:
        Apptuit(api_endpoint=server.endpoint).send([point()])
        assert len(heads) == 2   # the lean path's, then requests' own
        assert b"Accept-Encoding: identity" in heads[0]
        assert b"Accept-Encoding: identity" not in heads[1]
