"""Django: one line in ``settings.MIDDLEWARE``, first in the list so it times the
other middleware too::

    MIDDLEWARE = ["apptuit_like.integrations.django.ApptuitMiddleware", ...]

Requests are counted and timed under their URL pattern (``/orders/{pk}/`` for
``path("orders/<int:pk>/", ...)``, includes joined); a streamed response is timed
to the end of its body. ``settings.APPTUIT_LIKE_HTTP`` may name the registry (the
object or its dotted path; pyformance's global registry by default) and the
options ``HttpMetrics`` takes::

    APPTUIT_LIKE_HTTP = {"registry": "orders.metrics.registry", "status_codes": True}
"""
from typing import Any, Callable, Optional

from .http_metrics import HttpMetrics, route_template
from .wsgi import ClosingBody

__all__ = ["ApptuitMiddleware"]

_EXCEPTION = "_apptuit_like_exception"


class ApptuitMiddleware:
    """Counts, times and tracks every request Django serves."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        from django.conf import settings
        from django.utils.module_loading import import_string
        options = dict(getattr(settings, "APPTUIT_LIKE_HTTP", None) or {})
        registry = options.pop("registry", None)
        if isinstance(registry, str):
            registry = import_string(registry)
        self.get_response = get_response
        self.metrics = HttpMetrics(registry, **options)

    def __call__(self, request: Any) -> Any:
        metrics = self.metrics
        started = metrics.start()
        try:
            response = self.get_response(request)
        except BaseException as error:
            metrics.finish(started, request.method, _route(request), None, error)
            raise
        route, noted = _route(request), request.__dict__.pop(_EXCEPTION, None)
        if response.streaming:
            status = response.status_code
            response.streaming_content = ClosingBody(
                response.streaming_content,
                lambda failed: metrics.finish(started, request.method, route,
                                              None if failed else status, failed or noted))
        else:
            metrics.finish(started, request.method, route, response.status_code, noted)
        return response

    def process_exception(self, request: Any, exception: Exception) -> None:
        """Note a view's exception, which Django then answers with a 500."""
        setattr(request, _EXCEPTION, exception)


def _route(request: Any) -> Optional[str]:
    match = getattr(request, "resolver_match", None)
    pattern = getattr(match, "route", None)
    return route_template(pattern) if pattern else None
