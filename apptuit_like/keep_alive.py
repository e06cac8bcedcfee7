"""The POST of every report over kept-alive sockets, written and read directly.

With the CPU's caches cold, as they are after the application ran between two
reports, a small report's POST cost about 0.9 ms of CPU through ``requests``,
0.3 ms through ``http.client`` (which parses headers with the ``email`` package)
and 0.13 ms here, on the 2-core development machine: for a small registry the
POST was the larger part of a cycle. :class:`KeepAlive` writes the request in one
``sendall`` and reads the answer with a small HTTP/1.1 reader (status line,
headers, a body by Content-Length, chunks or the close of the connection).

It takes the common case (no proxy for the host) and gives everything else back to
the transport's ``requests`` session: a connection that fails for any reason but a
timeout, an answer it cannot read, or an answer that redirects, returns None and
the transport sends the same request through ``requests``, which reconnects (a
server may close an idle connection at any time) and words any failure as it always
has. Timeouts are raised at once, as ``requests`` classes, so that a silent server
costs one timeout and not two.
"""
import functools
import json
import os
import socket
import ssl
import zlib
from typing import Any, BinaryIO, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_encoding_from_headers

_MAX_LINE = 65536      # as http.client bounds a status or header line
_MAX_HEADERS = 100
_NO_BODY = frozenset([204, 304])


class _Unreadable(Exception):
    """An answer this reader does not take: requests sends the request instead."""


class _Connection(NamedTuple):
    sock: socket.socket
    reader: BinaryIO

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class Answer:
    """An answer read whole, with what the transport reads of a ``requests.Response``
    (``status_code``, ``reason``, ``url``, ``headers``, ``content``, ``text``,
    ``json()``, ``with``) and none of what it builds besides: a Response, its
    cookie jar included, cost 0.06 ms of CPU with cold caches.

    >>> answer = Answer(400, "Bad Request", [("Content-Type", "application/json")],
    ...                 b'{"failed": 1}', False, "http://tsdb:4242/api/put")
    >>> answer.headers["content-type"], answer.json()["failed"], answer.text
    ('application/json', 1, '{"failed": 1}')
    """

    def __init__(self, status: int, reason: str, fields: List[Tuple[str, str]],
                 content: bytes, will_close: bool, url: str = "") -> None:
        self.status_code = status
        self.reason = reason
        self.fields = fields
        self.content = content
        self.will_close = will_close
        self.url = url

    @functools.cached_property
    def headers(self) -> "CaseInsensitiveDict[str]":
        joined: Dict[str, str] = {}
        for name, value in self.fields:   # repeated headers joined, as requests does
            joined[name] = joined[name] + ", " + value if name in joined else value
        return CaseInsensitiveDict(joined)

    @property
    def text(self) -> str:
        encoding = get_encoding_from_headers(self.headers) or "utf-8"
        try:
            return self.content.decode(encoding, errors="replace")
        except LookupError:   # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; a ValueError when it is not JSON."""
        return json.loads(self.content)

    def __enter__(self) -> "Answer":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        pass


class KeepAlive:
    """POSTs to one URL, with the same headers each time, over a small pool of idle
    connections (one per thread that posts at the same time).

    >>> lean = KeepAlive("https://api.example.com/api/put?details", True, {"X-A": "1"})
    >>> lean.path, lean.port
    ('/api/put?details', 443)
    """

    def __init__(self, url: str, verify: Union[bool, str], headers: Mapping[str, str]
                 ) -> None:
        parts = urlsplit(url)
        self.url = url
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        self._context = _tls_context(verify) if parts.scheme == "https" else None
        lines = ["POST %s HTTP/1.1" % self.path, "Host: " + parts.netloc.rpartition("@")[2]]
        lines += ["%s: %s" % item for item in headers.items()
                  if item[0].lower() not in ("host", "content-length")]
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        self._idle: List[_Connection] = []

    def post(self, body: bytes, timeout: float) -> Optional[Answer]:
        """The answer, or None when ``requests`` should send this request instead."""
        connection: Optional[_Connection]
        try:
            connection = self._idle.pop()   # atomic: two threads never share one
        except IndexError:
            connection = self._connect(timeout)
            if connection is None:
                return None
        try:
            if connection.sock.gettimeout() != timeout:   # setting it is a system call
                connection.sock.settimeout(timeout)
            connection.sock.sendall(b"%s%d\r\n\r\n%s" % (self._head, len(body), body))
            answer = _read_answer(connection.reader, self.url)
        except socket.timeout as err:
            connection.close()
            raise requests.exceptions.ReadTimeout(err) from err
        except (OSError, ValueError, _Unreadable):
            connection.close()
            return None
        if answer.will_close:
            connection.close()
        else:
            self._idle.append(connection)
        if 300 <= answer.status_code < 400:
            return None   # a redirect: requests follows it
        return answer

    def close(self) -> None:
        """Close the idle connections."""
        while self._idle:
            self._idle.pop().close()

    def _connect(self, timeout: float) -> Optional[_Connection]:
        sock = None
        try:
            sock = socket.create_connection((self.host, self.port), timeout)
            # a body past one segment must not wait for the delayed ACK of the first
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._context is not None:
                sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except socket.timeout as err:
            if sock is not None:
                sock.close()
            raise requests.exceptions.ConnectTimeout(err) from err
        except OSError:   # refused, unresolvable, a TLS failure: requests words it
            if sock is not None:
                sock.close()
            return None
        return _Connection(sock, sock.makefile("rb"))


def _read_answer(reader: BinaryIO, url: str) -> Answer:
    """One HTTP/1.1 answer, its body read whole; informational answers skipped."""
    while True:
        line = _line(reader)
        version, _, rest = line.partition(b" ")
        code, _, reason = rest.partition(b" ")
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise _Unreadable(line[:80])
        status = int(code)
        headers = _headers(reader)
        if status >= 200:
            break
        if status == 101:
            raise _Unreadable("a protocol switch")
    fields = {key.lower(): value for key, value in headers}
    tokens = fields.get("connection", "").lower()
    will_close = "close" in tokens or (version == b"HTTP/1.0" and "keep-alive" not in tokens)
    if status in _NO_BODY:
        body = b""
    elif "chunked" in fields.get("transfer-encoding", "").lower():
        body = _chunked(reader)
    elif "content-length" in fields:
        body = _exactly(reader, int(fields["content-length"]))
    else:   # the body runs to the end of the connection
        body, will_close = reader.read(), True
    return Answer(status, reason.decode("latin-1"), headers,
                  _decoded(body, fields.get("content-encoding", "")), will_close, url)


def _line(reader: BinaryIO) -> bytes:
    line = reader.readline(_MAX_LINE + 1)
    if not line:
        raise _Unreadable("the connection was closed")   # e.g. an idle one the server shut
    if len(line) > _MAX_LINE:
        raise _Unreadable("a line over %d bytes" % _MAX_LINE)
    return line.rstrip(b"\r\n")


def _headers(reader: BinaryIO) -> List[Tuple[str, str]]:
    headers: List[Tuple[str, str]] = []
    while True:
        line = _line(reader)
        if not line:
            return headers
        if len(headers) == _MAX_HEADERS:
            raise _Unreadable("over %d headers" % _MAX_HEADERS)
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise _Unreadable("a header line without a colon")
        headers.append((name.strip(), value.strip()))


def _exactly(reader: BinaryIO, size: int) -> bytes:
    if size < 0:
        raise _Unreadable("a negative length")
    data = reader.read(size) if size else b""
    if len(data) != size:
        raise _Unreadable("a body cut short")
    return data


def _chunked(reader: BinaryIO) -> bytes:
    parts = []
    while True:
        size = int(_line(reader).split(b";", 1)[0].strip(), 16)
        if not size:
            break
        parts.append(_exactly(reader, size))
        _line(reader)   # the chunk's CRLF
    _headers(reader)   # trailers, if any
    return b"".join(parts)


def _decoded(body: bytes, encoding: str) -> bytes:
    """The body as ``requests`` would give it: gzip and deflate undone (answers are
    asked for uncompressed; a server may compress them all the same)."""
    encoding = encoding.strip().lower()
    if not body or encoding not in ("gzip", "deflate"):
        return body
    try:
        return zlib.decompress(body, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    except zlib.error as err:
        raise _Unreadable("an undecodable %s body" % encoding) from err


def _tls_context(verify: Union[bool, str]) -> ssl.SSLContext:
    """What requests verifies against: its CA bundle, the bundle or directory
    ``verify`` names, or nothing at all for ``verify=False``."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    where = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
    if os.path.isdir(where):
        return ssl.create_default_context(capath=where)
    return ssl.create_default_context(cafile=where)

