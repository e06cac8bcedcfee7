"""A null HTTP sink in its own process: reads each body, answers 204.

Running it in a child process keeps its CPU out of the measured process's
``time.process_time()``.
"""
import multiprocessing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(port_queue):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


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
