"""Flask: ``instrument(app, registry)`` and every request is counted and timed
under its URL rule (``/orders/{id}`` for ``/orders/<int:id>``)."""
from typing import Any

from .http_metrics import HttpMetrics, route_template
from .wsgi import EXCEPTION, ROUTE, ApptuitWSGIMiddleware

__all__ = ["instrument"]


def instrument(app: Any, registry: Any = None, **options: Any) -> HttpMetrics:
    """Wrap ``app.wsgi_app`` in :class:`ApptuitWSGIMiddleware`; returns its metrics.

    Options: ``prefix``, ``status_codes``, as ``HttpMetrics`` takes them.

    >>> import flask
    >>> from apptuit_like.pyformance import MetricsRegistry
    >>> app, registry = flask.Flask("orders"), MetricsRegistry()
    >>> metrics = instrument(app, registry)
    >>> @app.route("/orders/<int:order_id>")
    ... def order(order_id):
    ...     return "order %d" % order_id
    >>> response = app.test_client().get("/orders/7")
    >>> response.close()   # a server closes the body once it is sent
    >>> registry.counter('http.server.requests{"method": "GET", '
    ...                  '"route": "/orders/{order_id}", "status": "2xx"}').get_count()
    1
    """
    middleware = ApptuitWSGIMiddleware(app.wsgi_app, registry, **options)
    app.wsgi_app = middleware
    app.teardown_request(_note_route_and_exception)
    return middleware.metrics


def _note_route_and_exception(error: Any) -> None:
    """Runs for every request, an unmatched or failed one too, while the request
    is still at hand; an exception Flask answered with a 500 comes in ``error``."""
    from flask import request
    rule = request.url_rule
    if rule is not None:
        request.environ[ROUTE] = route_template(rule.rule)
    if error is not None:
        request.environ[EXCEPTION] = error

