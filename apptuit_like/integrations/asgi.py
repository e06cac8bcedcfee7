"""ASGI middleware: HTTP requests counted and timed until the app has sent the
last of the body; websocket traffic passes untouched. When the app completes its
lifespan shutdown (the server has finished every request), every running
reporter reports at once: uvicorn and hypercorn may then end the process by the
signal they stopped on, which skips ``atexit``.

The route template is what the app's router left in the scope: Starlette and
FastAPI put the matched route in ``scope["route"]`` (its ``path_format``,
``/orders/{id}``, led by the paths of the mounts it sits under); another
framework may put the template there as a string, and a plain app may pass
``route=``, a function of the scope.
"""
import asyncio
from typing import Any, Awaitable, Callable, MutableMapping, Optional

from ..pyformance import _lifecycle as lifecycle
from .http_metrics import HttpMetrics

__all__ = ["ApptuitASGIMiddleware", "route_of"]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class ApptuitASGIMiddleware:
    """Wraps an ASGI app; for FastAPI or Starlette, one line:
    ``app.add_middleware(ApptuitASGIMiddleware, registry=registry)``.

    >>> import asyncio
    >>> from apptuit_like.pyformance import MetricsRegistry
    >>> async def app(scope, receive, send):
    ...     await send({"type": "http.response.start", "status": 404, "headers": []})
    ...     await send({"type": "http.response.body", "body": b""})
    >>> async def send(message):
    ...     pass
    >>> registry = MetricsRegistry()
    >>> asyncio.run(ApptuitASGIMiddleware(app, registry)(
    ...     {"type": "http", "method": "GET", "path": "/nowhere"}, None, send))
    >>> registry.counter('http.server.requests{"method": "GET", "route": "unmatched", '
    ...                  '"status": "4xx"}').get_count()
    1

    Options as :class:`~apptuit_like.integrations.http_metrics.HttpMetrics` takes them
    (``prefix``, ``status_codes``).
    """

    def __init__(self, app: ASGIApp, registry: Any = None, *,
                 route: Optional[Callable[[Scope], Optional[str]]] = None,
                 **options: Any) -> None:
        self.app = app
        self.metrics = HttpMetrics(registry, **options)
        self.route = route

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, _flushing_at_shutdown(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics, status, root = self.metrics, None, scope.get("root_path", "")
        started = metrics.start()

        async def send_noting_status(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, send_noting_status)
        except BaseException as error:
            metrics.finish(started, scope["method"], self._route_of(scope, root), None, error)
            raise
        metrics.finish(started, scope["method"], self._route_of(scope, root), status)

    def _route_of(self, scope: Scope, root: str) -> Optional[str]:
        return self.route(scope) if self.route is not None else route_of(scope, root)


def _flushing_at_shutdown(send: Any) -> Callable[[MutableMapping[str, Any]], Awaitable[None]]:
    async def send_after_flush(message: MutableMapping[str, Any]) -> None:
        if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            # on a thread: the loop stays free for whatever else is closing
            await asyncio.get_running_loop().run_in_executor(None, lifecycle.flush_all)
        await send(message)
    return send_after_flush


def route_of(scope: Scope, root: str = "") -> Optional[str]:
    """The template of the route that served ``scope``, None when none matched.
    Under a Starlette ``Mount`` the router has lengthened ``root_path`` (from
    ``root`` when the request came in) by the mount's path, which leads the
    template: ``/v2/orders/{id}``."""
    route = scope.get("route")
    if route is None:
        if "endpoint" in scope and "router" in scope:   # a Starlette 0.49 or older
            return _matched(scope["router"].routes, dict(scope, root_path=root))
        return None
    if isinstance(route, str):
        return route
    template: Optional[str] = getattr(route, "path_format", None) or getattr(route, "path",
                                                                             None)
    mounted: str = scope.get("root_path", "")
    if template and len(mounted) > len(root) and mounted.startswith(root):
        return mounted[len(root):] + template
    return template


def _matched(routes: Any, scope: Scope) -> Optional[str]:
    """The template of the route in ``routes`` (and the mounts among them) that
    matches ``scope``, as Starlette's router matched it: for the Starlette releases
    (0.49 among them) that leave no ``scope["route"]``."""
    from starlette.routing import Match
    partial = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return _template_of(route, scope, child)
        if match is Match.PARTIAL and partial is None:
            partial = (route, child)
    return _template_of(partial[0], scope, partial[1]) if partial else None


def _template_of(route: Any, scope: Scope, child: Scope) -> Optional[str]:
    inner = getattr(route, "routes", None)
    if inner is None:
        found: Optional[str] = getattr(route, "path_format", None)
        return found
    rest = _matched(inner, dict(scope, **child))   # a Mount: its path leads
    return route.path + rest if rest else None
