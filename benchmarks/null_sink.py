"""A null HTTP sink in its own process: reads each body, answers 204; on the same
port number it reads and drops UDP datagrams, for the StatsD clients.

Running it in a child process keeps its CPU out of the measured process's
``time.process_time()``.
"""
import multiprocessing
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Tuple
from urllib.parse import urlsplit


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _drain(udp: socket.socket) -> None:
    while True:
        udp.recv(65536)


def _serve(port_queue):
    while True:   # until the HTTP server's port is free for UDP too
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(server.server_address)
            break
        except OSError:
            udp.close()
            server.server_close()
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    threading.Thread(target=_drain, args=(udp,), daemon=True).start()
    port_queue.put(server.server_address[1])
    server.serve_forever()


def udp_address(endpoint: str) -> Tuple[str, int]:
    """(host, port) of the sink's UDP side, from its HTTP endpoint."""
    parts = urlsplit(endpoint)
    return parts.hostname or "127.0.0.1", parts.port or 80


class NullSink:
    """``with NullSink() as endpoint:`` gives http://127.0.0.1:PORT."""

    def __enter__(self) -> str:
        ports = multiprocessing.Queue()
        self._process = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
        self._process.start()
        return "http://127.0.0.1:%d" % ports.get(timeout=30)

    def __exit__(self, *exc_info) -> None:
        self._process.terminate()
        self._process.join()
