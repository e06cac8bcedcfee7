"""The POST of every report over kept-alive ``http.client`` connections.

A report costs about 0.2 ms of CPU to POST through ``requests`` and less than
half of that through ``http.client``: for a small registry the POST is the larger
part of a cycle. :class:`KeepAlive` takes the common case (no proxy for the
host) and gives everything else back to the transport's ``requests`` session: a
connection that fails for any reason but a timeout, or an answer that redirects,
returns None and the transport sends the same request through ``requests``, which
reconnects (a server may close an idle connection at any time) and words any
failure as it always has. Timeouts are raised at once, as ``requests`` classes, so
that a silent server costs one timeout and not two.
"""
import http.client
import os
import socket
import ssl
from typing import List, Mapping, Optional, Union
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_encoding_from_headers

Connection = Union[http.client.HTTPConnection, http.client.HTTPSConnection]


class KeepAlive:
    """POSTs to one URL over a small pool of idle connections (one per thread that
    posts at the same time).

    >>> KeepAlive("https://api.example.com/api/put?details", verify=True).path
    '/api/put?details'
    """

    def __init__(self, url: str, verify: Union[bool, str]) -> None:
        parts = urlsplit(url)
        self.url = url
        self.host = parts.hostname or ""
        self.port = parts.port
        self.path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        self._context = _tls_context(verify) if parts.scheme == "https" else None
        self._idle: List[Connection] = []

    def post(self, body: bytes, headers: Mapping[str, str],
             timeout: float) -> Optional[requests.Response]:
        """The answer, or None when ``requests`` should send this request instead."""
        connection: Optional[Connection]
        try:
            connection = self._idle.pop()   # atomic: two threads never share one
        except IndexError:
            connection = self._connect(timeout)
        if connection is None:
            return None
        if connection.sock is not None:   # a kept connection: this request's timeout
            connection.sock.settimeout(timeout)
        try:
            connection.request("POST", self.path, body, headers)
            answer = connection.getresponse()
            content = answer.read()
        except socket.timeout as err:
            connection.close()
            raise requests.exceptions.ReadTimeout(err) from err
        except (OSError, http.client.HTTPException):
            connection.close()
            return None
        if answer.will_close:
            connection.close()
        else:
            self._idle.append(connection)
        if 300 <= answer.status < 400:
            return None   # a redirect: requests follows it
        return _response(answer, content, self.url)

    def close(self) -> None:
        """Close the idle connections."""
        while self._idle:
            self._idle.pop().close()

    def _connect(self, timeout: float) -> Optional[Connection]:
        connection: Connection
        if self._context is not None:
            connection = http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                                     context=self._context)
        else:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.connect()
            # http.client writes the head and the body apart: without this, Nagle's
            # algorithm holds the body back until the head's delayed ACK (up to 40 ms)
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except socket.timeout as err:
            connection.close()
            raise requests.exceptions.ConnectTimeout(err) from err
        except OSError:   # refused, unresolvable, a TLS failure: requests words it
            connection.close()
            return None
        return connection


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


def _response(answer: http.client.HTTPResponse, content: bytes, url: str
              ) -> requests.Response:
    """A ``requests.Response`` holding an answer already read."""
    response = requests.Response()
    response.status_code = answer.status
    response.reason = answer.reason
    response.headers = CaseInsensitiveDict(answer.getheaders())
    response.encoding = get_encoding_from_headers(response.headers)
    response.url = url
    response._content = content
    response._content_consumed = True  # type: ignore[attr-defined]  # read already
    return response
