import time

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path

from common import STREAM_PAUSE

settings.configure(
    DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, SECRET_KEY="test",
    MIDDLEWARE=["apptuit_like.integrations.django.ApptuitMiddleware"],
    APPTUIT_LIKE_HTTP={"registry": "common.registry"},
    LOGGING_CONFIG=None)


def order(request, id):
    if request.method == "POST":
        return HttpResponse("created", status=201)
    return HttpResponse("order %d" % id)


def create(request):
    return HttpResponse("created", status=201)


def boom(request):
    raise ValueError("boom")


def stream(request):
    def chunks():
        for i in range(3):
            time.sleep(STREAM_PAUSE)
            yield b"chunk %d\n" % i
    return StreamingHttpResponse(chunks())


urlpatterns = [path("orders/<int:id>", order), path("orders", create),
               path("boom", boom), path("stream", stream)]
app = get_wsgi_application()
