"""The middleware's own rules, in process: what each request adds to the registry.
(tests/test_integrations.py runs the frameworks under real servers.)"""
import asyncio

import pytest

from apptuit_like.integrations.asgi import ApptuitASGIMiddleware
from apptuit_like.integrations.http_metrics import HttpMetrics, route_template
from apptuit_like.integrations.wsgi import ApptuitWSGIMiddleware
from apptuit_like.pyformance import MetricsRegistry
from apptuit_like.timeseries import encode_metric


def count(registry, method="GET", route="unmatched", status="2xx",
          name="http.server.requests"):
    key = encode_metric(name, {"method": method, "route": route, "status": status})
    return registry.counter(key).get_count()


def call_wsgi(app, method="GET"):
    body = app({"REQUEST_METHOD": method, "PATH_INFO": "/"},
               lambda status, headers, exc_info=None: None)
    try:
        return b"".join(body)
    finally:
        body.close()


def test_status_classes_and_codes_and_methods_outside_http():
    registry = MetricsRegistry()
    classes, codes = HttpMetrics(registry), HttpMetrics(registry, prefix="coded",
                                                        status_codes=True)
    for metrics in classes, codes:
        for method, status in [("GET", 204), ("GET", "404 Not Found"), ("BREW", 500),
                               ("GET", None)]:
            metrics.finish(metrics.start(), method, None, status)
    assert [count(registry, status=s) for s in ("2xx", "4xx", "5xx")] == [1, 1, 1]
    assert count(registry, method="other", status="5xx") == 1
    assert [count(registry, status=s, name="coded.requests") for s in ("204", "404", "500")] \
        == [1, 1, 1]


def test_a_raising_wsgi_app_is_counted_as_500_and_its_exception_raised_unchanged():
    registry, error = MetricsRegistry(), KeyError("order 7")

    def app(environ, start_response):
        raise error
    with pytest.raises(KeyError) as raised:
        call_wsgi(ApptuitWSGIMiddleware(app, registry))
    assert raised.value is error
    assert count(registry, status="5xx") == 1
    assert registry.counter(encode_metric("http.server.exceptions", {
        "method": "GET", "route": "unmatched", "exception": "KeyError"})).get_count() == 1


def test_a_streamed_body_is_counted_once_when_closed_and_a_failure_midway_is_5xx():
    registry = MetricsRegistry()
    closed = []

    class Body:
        def __iter__(self):
            yield b"a"
            raise OSError("disk gone")

        def close(self):
            closed.append(True)
    app = ApptuitWSGIMiddleware(lambda environ, start: start("200 OK", []) or Body(),
                                registry)
    body = app({"REQUEST_METHOD": "GET"}, lambda status, headers, exc_info=None: None)
    assert count(registry, status="2xx") + count(registry, status="5xx") == 0   # not yet
    with pytest.raises(OSError):
        list(body)
    body.close()
    body.close()
    assert (count(registry, status="5xx"), closed) == (1, [True])
    assert app.metrics._in_flight.get_value() == 0


def test_in_flight_counts_requests_begun_and_not_ended():
    registry = MetricsRegistry()
    seen = []

    def app(environ, start_response):
        seen.append(registry.gauge("http.server.active_requests").get_value())
        start_response("200 OK", [])
        return [b""]
    middleware = ApptuitWSGIMiddleware(app, registry)
    call_wsgi(middleware)
    assert seen == [1.0] and middleware.metrics._in_flight.get_value() == 0


def test_two_apps_share_the_in_flight_gauge_and_a_foreign_gauge_is_refused():
    registry = MetricsRegistry()
    first, second = HttpMetrics(registry), HttpMetrics(registry)
    first.start()
    assert second._in_flight.get_value() == 1
    registry.gauge("taken.active_requests", lambda: 3)
    with pytest.raises(ValueError, match="taken.active_requests"):
        HttpMetrics(registry, prefix="taken")


def test_asgi_passes_lifespan_through_and_counts_an_exception_after_the_answer_began():
    registry = MetricsRegistry()

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return
        scope["route"] = "/orders/{id}"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("cut")

    async def send(message):
        pass
    middleware = ApptuitASGIMiddleware(app, registry)
    asyncio.run(middleware({"type": "lifespan"}, None, send))
    with pytest.raises(RuntimeError):
        asyncio.run(middleware({"type": "http", "method": "POST"}, None, send))
    assert count(registry, method="POST", route="/orders/{id}", status="5xx") == 1
    assert len(registry.dump_metrics()) == 4   # no series for the lifespan call


@pytest.mark.parametrize("pattern, template", [
    ("/orders/<int:id>", "/orders/{id}"), ("/files/<path:name>", "/files/{name}"),
    ("orders/<id>/", "/orders/{id}/"), ("/", "/"),
    ("^articles/(?P<year>[0-9]{4})/$", "/articles/{year}/")])
def test_route_templates_read_alike_across_frameworks(pattern, template):
    assert route_template(pattern) == template


def test_a_starlette_route_under_a_mount_is_named_with_the_mounts_path():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    async def item(request):
        return PlainTextResponse("item")
    inner = Starlette(routes=[Route("/orders/{id}", item)])
    registry = MetricsRegistry()
    app = ApptuitASGIMiddleware(Starlette(routes=[Mount("/v2", app=inner),
                                                  Route("/orders/{id}", item)]), registry)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass
    for path, root in [("/v2/orders/3", ""), ("/orders/3", ""), ("/shop/v2/orders/3", "/shop")]:
        asyncio.run(app({"type": "http", "method": "GET", "path": path, "root_path": root,
                         "raw_path": path.encode(), "query_string": b"", "headers": [],
                         "scheme": "http", "server": ("test", 80)}, receive, send))
    assert count(registry, route="/v2/orders/{id}") == 2   # the server's root_path stays out
    assert count(registry, route="/orders/{id}") == 1


def test_a_starlette_that_leaves_no_route_in_the_scope_is_matched_by_hand():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    async def item(request):
        return PlainTextResponse("item")
    starlette = Starlette(routes=[Mount("/v2", app=Starlette(routes=[
        Route("/orders/{id}", item)])), Route("/orders/{id}", item)])

    async def as_before_0_50(scope, receive, send):   # Starlette 0.49 sets no "route"
        await starlette(scope, receive, send)
        scope.pop("route", None)
    registry = MetricsRegistry()
    app = ApptuitASGIMiddleware(as_before_0_50, registry)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass
    for path in ("/v2/orders/3", "/orders/3", "/nowhere"):
        asyncio.run(app({"type": "http", "method": "GET", "path": path, "root_path": "",
                         "raw_path": path.encode(), "query_string": b"", "headers": [],
                         "scheme": "http", "server": ("test", 80)}, receive, send))
    assert count(registry, route="/v2/orders/{id}") == count(registry, route="/orders/{id}") \
        == count(registry, route="unmatched", status="4xx") == 1
