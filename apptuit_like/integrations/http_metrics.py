"""What the web adapters record per request, shared so every framework sends the
same series: a counter and a timer per method, route template and status, the
requests in flight, and exceptions by type.

The hot path is a perf_counter pair, a dict lookup and two lock-free updates:
each (method, route, status) key finds its counter and timer in a dict of its
own, built once, so no registry key is encoded per request.
"""
import functools
import re
import time
from typing import Any, Dict, Optional, Tuple

from pyformance.meters import Gauge
from pyformance.registry import global_registry

from ..pyformance import _adapter
from ..pyformance.metrics import Counter
from ..timeseries import encode_metric

__all__ = ["HttpMetrics", "route_template"]

UNMATCHED = "unmatched"   # the route of a request no route template matched
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
                     "CONNECT", "TRACE"))
_PLACEHOLDER = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^()]*\)")   # a Django re_path() group


@functools.lru_cache(maxsize=4096)   # patterns are few; computed once each
def route_template(pattern: str) -> str:
    """A Flask or Django route pattern in the ``{name}`` form Starlette uses, so one
    route reads the same whichever framework serves it.

    >>> route_template("/orders/<int:order_id>")
    '/orders/{order_id}'
    >>> route_template("orders/<slug:name>/items/")
    '/orders/{name}/items/'
    >>> route_template("^articles/(?P<year>[0-9]{4})/$")
    '/articles/{year}/'
    """
    if pattern.startswith("^") or pattern.endswith("$"):
        pattern = _NAMED_GROUP.sub(r"{\1}", pattern.lstrip("^").rstrip("$"))
    pattern = _PLACEHOLDER.sub(r"{\1}", pattern)
    return pattern if pattern.startswith("/") else "/" + pattern


class _InFlight(Gauge):  # type: ignore[misc]  # pyformance has no types
    """Requests begun minus requests ended: two lock-free counters, read together."""

    def __init__(self) -> None:
        super().__init__()
        self.begun, self.ended = Counter(), Counter()

    def get_value(self) -> float:
        ended = self.ended.get_count()   # first: a value never counts an end without its start
        return float(self.begun.get_count() - ended)


class HttpMetrics:
    """Counts, times and tracks requests into a pyformance registry.

    Series (names before the reporter's sanitizing; ``prefix`` is ``http.server``):

    - ``{prefix}.requests`` (counter) and ``{prefix}.request.duration`` (timer, seconds),
      tagged ``method``, ``route``, ``status``;
    - ``{prefix}.active_requests`` (gauge);
    - ``{prefix}.exceptions`` (counter), tagged ``method``, ``route``, ``exception``.

    ``status`` is the class (``2xx``) or, with ``status_codes=True``, the code. A method
    outside HTTP's own is ``other``, so clients cannot invent series.

    >>> from apptuit_like.pyformance import MetricsRegistry
    >>> metrics = HttpMetrics(MetricsRegistry())
    >>> metrics.finish(metrics.start(), "GET", "/orders/{id}", 200)
    >>> for key in sorted(metrics.registry.dump_metrics()): print(key)
    http.server.active_requests
    http.server.request.duration{"method": "GET", "route": "/orders/{id}", "status": "2xx"}
    http.server.requests{"method": "GET", "route": "/orders/{id}", "status": "2xx"}
    """

    def __init__(self, registry: Any = None, *, prefix: str = "http.server",
                 status_codes: bool = False) -> None:
        self.registry = registry if registry is not None else global_registry()
        self.prefix = prefix
        self.status_codes = status_codes
        self._series: Dict[Tuple[str, str, Any], Tuple[Any, Any]] = {}
        self._in_flight = self.registry.gauge(prefix + ".active_requests", _InFlight())
        if not isinstance(self._in_flight, _InFlight):
            raise ValueError("%s.active_requests is already a gauge of another kind"
                             % prefix)

    def start(self) -> float:
        """Note a request begun; returns its start, for :meth:`finish`."""
        self._in_flight.begun.inc()
        return time.perf_counter()

    def finish(self, started: float, method: str, route: Optional[str], status: Any,
               exception: Optional[BaseException] = None) -> None:
        """Count and time a request from :meth:`start`. ``status`` is the code (an int
        or a WSGI status line), None when no answer began (counted as 500)."""
        seconds = time.perf_counter() - started
        self._in_flight.ended.inc()
        key = (method, route or UNMATCHED, status)
        try:
            counter, timer = self._series[key]
        except KeyError:
            counter, timer = self._series_of(key)
        counter.inc()
        _adapter.record_seconds(timer, seconds)
        if exception is not None:
            self.count_exception(method, route, exception)

    def count_exception(self, method: str, route: Optional[str],
                        exception: BaseException) -> None:
        """Count an exception a request raised, by its type's name."""
        tags = {"method": _method(method), "route": route or UNMATCHED,
                "exception": type(exception).__name__}
        self.registry.counter(encode_metric(self.prefix + ".exceptions", tags)).inc()

    def _series_of(self, key: Tuple[str, str, Any]) -> Tuple[Any, Any]:
        method, route, status = key
        tags = {"method": _method(method), "route": route, "status": self._status(status)}
        found = (self.registry.counter(encode_metric(self.prefix + ".requests", tags)),
                 self.registry.timer(encode_metric(self.prefix + ".request.duration", tags)))
        if len(self._series) < 100_000:   # unbounded keys (bad methods) only cost lookups
            self._series[key] = found
        return found

    def _status(self, status: Any) -> str:
        if status is None:
            code = 500
        else:
            try:
                code = int(str(status)[:3])
            except ValueError:
                return "other"
        return str(code) if self.status_codes else "%dxx" % (code // 100)


def _method(method: str) -> str:
    return method if method in METHODS else "other"
