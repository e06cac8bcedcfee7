"""Real servers for the tests: VictoriaMetrics and a small scripted Apptuit stand-in."""
import gzip
import json
import re
import socket
import ssl
import subprocess
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple

import requests

from apptuit_like.testing import INSTALL_HINT, LocalVictoriaMetrics

VM_MISSING = INSTALL_HINT + " The README's test command, `bash tests/run.sh`, installs it."


class VictoriaMetrics(LocalVictoriaMetrics):
    """The package's local VictoriaMetrics plus read-back helpers for assertions."""

    def series(self, selector: str, millis: bool = False) -> Dict[tuple, List[tuple]]:
        """{(name, sorted label items): [(timestamp, value), ...]} for a selector,
        timestamps in whole seconds, or as stored (milliseconds) with ``millis``."""
        out = {}
        unit = 1 if millis else 1000
        for row in self.export(selector):
            labels = dict(row["metric"])
            name = labels.pop("__name__")
            points = [(t // unit, v) for t, v in sorted(zip(row["timestamps"], row["values"]))]
            out[(name, tuple(sorted(labels.items())))] = points
        return out


    def at_now(self, selector: str) -> Dict[tuple, float]:
        """{sorted label items: value} of an instant query at "now", as a dashboard
        or an alert rule sees it: the newest sample not later than the clock."""
        self.flush()
        response = requests.get(self.query_url + "/api/v1/query",
                                params={"query": selector, "time": "%.3f" % time.time()},
                                timeout=30)
        response.raise_for_status()
        return {tuple(sorted(row["metric"].items())): float(row["value"][1])
                for row in response.json()["data"]["result"]}

    def ahead_of_clock(self, selector: str) -> float:
        """Seconds by which the newest stored stamp of a selector is later than the
        wall clock once the read returns (negative: behind it, as it must be; -inf
        while nothing is stored)."""
        newest = max((max(row["timestamps"]) for row in self.export(selector)),
                     default=float("-inf"))
        return newest / 1000.0 - time.time()


def serve_tls(folder, handler) -> Tuple[ThreadingHTTPServer, str, str]:
    """An HTTPS server on loopback with a fresh self-signed certificate for
    127.0.0.1, serving ``handler``: (server, endpoint, certificate path); end it
    with ``server.shutdown()`` and ``server.server_close()``."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "https://127.0.0.1:%d" % server.server_address[1], str(cert)


class Reply:
    """One scripted answer of the fake server."""

    def __init__(self, status: int = 204, body: object = b"", headers: Optional[dict] = None,
                 delay: float = 0.0) -> None:
        self.status, self.headers, self.delay = status, headers or {}, delay
        self.body = json.dumps(body).encode() if isinstance(body, (dict, list)) else (
            body.encode() if isinstance(body, str) else body)


class FakeApptuit:
    """An HTTP server on loopback answering from a script, recording every request.

    ``replies`` is consumed in order; when empty, ``default`` answers. Each request
    is recorded with its decoded JSON body (gzip and deflate undone).
    """

    def __init__(self, port: int = 0) -> None:
        self.replies: List[Reply] = []
        self.default = Reply(204)
        self.requests: List[dict] = []
        self.arrived = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def points(self) -> List[dict]:
        return [p for r in self.requests if isinstance(r["json"], list) for p in r["json"]]

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError("expected %d requests, got %d"
                                     % (count, len(self.requests)))

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record_and_reply(self, handler: BaseHTTPRequestHandler) -> Reply:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        encoding = handler.headers.get("Content-Encoding")
        body = gzip.decompress(raw) if encoding == "gzip" else (
            zlib.decompress(raw) if encoding == "deflate" else raw)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        with self.arrived:
            reply = self.replies.pop(0) if self.replies else self.default
            self.requests.append({"method": handler.command, "path": handler.path,
                                  "client_port": handler.client_address[1],
                                  "headers": dict(handler.headers), "raw": raw,
                                  "json": parsed, "at": time.monotonic()})
            self.arrived.notify_all()
        return reply

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                reply = fake._record_and_reply(self)
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_POST = do_GET = _answer

            def log_message(self, *args) -> None:
                pass

        return Handler


class CutShortServer:
    """Answers every request with a chunked body that ends mid-chunk, as a proxy or
    server dying half-way through its answer does; counts the requests."""

    ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n10\r\n{\"outp")

    def __init__(self) -> None:
        self.requests = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return "http://127.0.0.1:%d" % self._socket.getsockname()[1]

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return   # closed by stop()
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                match = re.search(rb"(?i)content-length:\s*(\d+)", head)
                while match and len(body) < int(match.group(1)):
                    body += conn.recv(65536)
                self.requests += 1
                conn.sendall(self.ANSWER)

    def stop(self) -> None:
        self._socket.close()


class UnansweredPort:
    """A listening port whose accept queue is full, so a new connection is never
    accepted: the client's connect times out (requests' ConnectTimeout)."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(0)
        self._fillers = []
        for _ in range(4):   # the queue holds backlog + 1; later SYNs are dropped
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(self._socket.getsockname())
            self._fillers.append(filler)

    @property
    def endpoint(self) -> str:
        return "http://127.0.0.1:%d" % self._socket.getsockname()[1]

    def stop(self) -> None:
        for sock in self._fillers + [self._socket]:
            sock.close()
