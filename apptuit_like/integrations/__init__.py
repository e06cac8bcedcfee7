"""One line to instrument a web service or a worker, with one set of series names.

- :mod:`.wsgi` and :mod:`.asgi`: the middleware every web adapter is built on;
- :mod:`.flask`, :mod:`.django`: the small parts that find the route template
  (Starlette and FastAPI need none: the ASGI middleware reads their matched route);
- :mod:`.celery`: task signals.

Each adapter imports its framework only when used; none is a dependency.
"""

__all__: "list[str]" = []
