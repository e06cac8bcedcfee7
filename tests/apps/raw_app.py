"""A WSGI and an ASGI app without a framework: each routes by hand and tells the
middleware its route template through ``route=``."""
import asyncio
import re
import time

from apptuit_like.integrations.asgi import ApptuitASGIMiddleware
from apptuit_like.integrations.wsgi import ApptuitWSGIMiddleware
from common import STREAM_PAUSE, registry

ROUTES = [("GET", re.compile(r"/orders/\d+"), "/orders/{id}", "200 OK"),
          ("POST", re.compile(r"/orders"), "/orders", "201 Created"),
          ("GET", re.compile(r"/boom"), "/boom", None),
          ("GET", re.compile(r"/stream"), "/stream", "200 OK")]


def match(method, path):
    for want, pattern, template, status in ROUTES:
        if want == method and pattern.fullmatch(path):
            return template, status
    return None, "404 Not Found"


def wsgi(environ, start_response):
    template, status = match(environ["REQUEST_METHOD"], environ["PATH_INFO"])
    if template == "/boom":
        raise ValueError("boom")
    start_response(status, [("Content-Type", "text/plain")])
    if template == "/stream":
        return chunks()
    return [b"ok"]


def chunks():
    for i in range(3):
        time.sleep(STREAM_PAUSE)
        yield b"chunk %d\n" % i


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    template, status = match(scope["method"], scope["path"])
    if template == "/boom":
        raise ValueError("boom")
    await send({"type": "http.response.start", "status": int(status[:3]),
                "headers": [(b"content-type", b"text/plain")]})
    for i in range(3 if template == "/stream" else 0):
        await asyncio.sleep(STREAM_PAUSE)
        await send({"type": "http.response.body", "body": b"chunk", "more_body": True})
    await send({"type": "http.response.body", "body": b"ok"})


wsgi_app = ApptuitWSGIMiddleware(wsgi, registry,
                                 route=lambda environ: match(environ["REQUEST_METHOD"],
                                                             environ["PATH_INFO"])[0])
asgi_app = ApptuitASGIMiddleware(asgi, registry,
                                 route=lambda scope: match(scope["method"], scope["path"])[0])
