"""What the web middleware adds to a request: a hello-world WSGI app and ASGI app
driven in process, bare, behind apptuit_like's middleware, and behind the same job
done with prometheus_client (a request counter and a latency histogram labelled by
method, route and status, and an in-progress gauge), CPU per request.

    python -m benchmarks.middleware [--requests 20000] [--runs 7]
"""
import argparse
import asyncio
import functools
import time
from typing import Any, Callable, Dict

from benchmarks.timing import cpu_seconds, interleaved

ENVIRON = {"REQUEST_METHOD": "GET", "PATH_INFO": "/orders/7"}
SCOPE = {"type": "http", "method": "GET", "path": "/orders/7", "route": "/orders/{id}"}


def hello_wsgi(environ: dict, start_response: Callable[..., Any]) -> list:
    environ["apptuit_like.route"] = "/orders/{id}"   # what a framework adapter leaves
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


async def hello_asgi(scope: dict, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


class PrometheusWSGI:
    """prometheus_client doing the middleware's job, as its users write it."""

    def __init__(self, app: Any, registry: Any) -> None:
        from prometheus_client import Counter, Gauge, Histogram
        labels = ("method", "route", "status")
        self.app = app
        self.requests = Counter("http_requests", "", labels, registry=registry)
        self.latency = Histogram("http_request_duration_seconds", "", labels,
                                 registry=registry)
        self.in_progress = Gauge("http_requests_in_progress", "", registry=registry)

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        started, status = time.perf_counter(), []
        self.in_progress.inc()

        def start(line: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(line[0] + "xx")
            return start_response(line, headers)
        try:
            return self.app(environ, start)
        finally:
            labels = (environ["REQUEST_METHOD"], environ.get("apptuit_like.route", ""),
                      status[0] if status else "5xx")
            self.requests.labels(*labels).inc()
            self.latency.labels(*labels).observe(time.perf_counter() - started)
            self.in_progress.dec()


class PrometheusASGI(PrometheusWSGI):
    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:  # type: ignore
        started, status = time.perf_counter(), []
        self.in_progress.inc()

        async def noting(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append("%dxx" % (message["status"] // 100))
            await send(message)
        try:
            await self.app(scope, receive, noting)
        finally:
            labels = (scope["method"], scope.get("route", ""), status[0] if status else "5xx")
            self.requests.labels(*labels).inc()
            self.latency.labels(*labels).observe(time.perf_counter() - started)
            self.in_progress.dec()


def drive_wsgi(app: Any, n: int) -> None:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        return None
    for _ in range(n):
        body = app(dict(ENVIRON), start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()


def drive_asgi(app: Any, n: int) -> None:
    async def send(message: dict) -> None:
        return None

    async def requests() -> None:
        for _ in range(n):
            await app(dict(SCOPE), None, send)
    asyncio.run(requests())


def apps() -> Dict[str, Any]:
    from prometheus_client import CollectorRegistry

    from apptuit_like.integrations.asgi import ApptuitASGIMiddleware
    from apptuit_like.integrations.wsgi import ApptuitWSGIMiddleware
    from apptuit_like.pyformance import MetricsRegistry
    return {"wsgi": {"bare": hello_wsgi,
                     "apptuit_like": ApptuitWSGIMiddleware(hello_wsgi, MetricsRegistry()),
                     "prometheus_client": PrometheusWSGI(hello_wsgi, CollectorRegistry())},
            "asgi": {"bare": hello_asgi,
                     "apptuit_like": ApptuitASGIMiddleware(hello_asgi, MetricsRegistry()),
                     "prometheus_client": PrometheusASGI(hello_asgi, CollectorRegistry())}}


def measure(requests: int, runs: int) -> Dict[str, Dict[str, float]]:
    """{"wsgi"/"asgi": {"bare"/"apptuit_like"/"prometheus_client": CPU s per request}}."""
    got: Dict[str, Dict[str, float]] = {}
    for kind, cases in apps().items():
        drive = drive_wsgi if kind == "wsgi" else drive_asgi
        for app in cases.values():
            drive(app, 1000)   # warm-up: series created
        medians = interleaved({name: functools.partial(cpu_seconds, functools.partial(
            drive, app, requests)) for name, app in cases.items()}, runs)
        got[kind] = {name: value / requests for name, value in medians.items()}
    return got


def main(argv: Any = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    for kind, got in measure(args.requests, args.runs).items():
        bare = got["bare"]
        print("%s: bare %.2f us; added by apptuit_like %.2f us, by prometheus_client %.2f us"
              % (kind, bare * 1e6, (got["apptuit_like"] - bare) * 1e6,
                 (got["prometheus_client"] - bare) * 1e6))


if __name__ == "__main__":
    main()
