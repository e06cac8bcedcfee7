"""WSGI middleware: requests counted and timed to the end of their body.

Framework adapters tell it the route template and an exception their framework
turned into a 500 through two keys of the WSGI environ, :data:`ROUTE` and
:data:`EXCEPTION`; a plain WSGI app may pass ``route=``, a function of the environ.
"""
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional

from .http_metrics import HttpMetrics

__all__ = ["ApptuitWSGIMiddleware", "ClosingBody", "ROUTE"]

Environ = Dict[str, Any]
ROUTE = "apptuit_like.route"
EXCEPTION = "apptuit_like.exception"


class ApptuitWSGIMiddleware:
    """Wraps a WSGI app; every request is counted, timed and tracked in flight.

    >>> from apptuit_like.pyformance import MetricsRegistry
    >>> def app(environ, start_response):
    ...     start_response("200 OK", [("Content-Type", "text/plain")])
    ...     return [b"hello"]
    >>> registry = MetricsRegistry()
    >>> app = ApptuitWSGIMiddleware(app, registry, route=lambda environ: "/hello")
    >>> body = app({"REQUEST_METHOD": "GET"}, lambda status, headers, exc_info=None: None)
    >>> b"".join(body), body.close()
    (b'hello', None)
    >>> registry.counter('http.server.requests{"method": "GET", "route": "/hello", '
    ...                  '"status": "2xx"}').get_count()
    1

    Options as :class:`~apptuit_like.integrations.http_metrics.HttpMetrics` takes them
    (``prefix``, ``status_codes``).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], registry: Any = None, *,
                 route: Optional[Callable[[Environ], Optional[str]]] = None,
                 **options: Any) -> None:
        self.app = app
        self.metrics = HttpMetrics(registry, **options)
        self.route = route

    def __call__(self, environ: Environ, start_response: Callable[..., Any]) -> "ClosingBody":
        started = self.metrics.start()
        status: List[str] = []

        def start(line: str, headers: Any, exc_info: Any = None) -> Any:
            status[:] = (line,)
            return start_response(line, headers, exc_info) if exc_info \
                else start_response(line, headers)
        try:
            body = self.app(environ, start)
        except BaseException as error:
            self._finish(environ, started, None, error)
            raise
        return ClosingBody(body, lambda error: self._finish(environ, started,
                                                      status[0] if status else None, error))

    def _finish(self, environ: Environ, started: float, status: Optional[str],
                error: Optional[BaseException]) -> None:
        route = environ.get(ROUTE)
        if route is None and self.route is not None:
            route = self.route(environ)
        self.metrics.finish(started, environ.get("REQUEST_METHOD", ""), route,
                            status if error is None else None,
                            error or environ.get(EXCEPTION))


class ClosingBody:
    """A response body that reports once, when the server closes it (PEP 3333 says
    it must), so a streamed body is timed to its end; an exception while it is
    produced is counted and raised on."""

    __slots__ = ("_body", "_done", "_error")

    def __init__(self, body: Iterable[bytes],
                 done: Callable[[Optional[BaseException]], None]) -> None:
        self._body = body
        self._done: Optional[Callable[[Optional[BaseException]], None]] = done
        self._error: Optional[BaseException] = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except BaseException as error:
            self._error = error
            raise

    def close(self) -> None:
        done, self._done = self._done, None
        if done is None:   # closed before
            return
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            done(self._error)
