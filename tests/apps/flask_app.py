import time

import flask

from apptuit_like.integrations.flask import instrument
from common import STREAM_PAUSE, registry

app = flask.Flask(__name__)
instrument(app, registry)


@app.get("/orders/<int:id>")
def order(id):
    return "order %d" % id


@app.post("/orders")
def create():
    return "created", 201


@app.get("/boom")
def boom():
    raise ValueError("boom")


@app.get("/stream")
def stream():
    def chunks():
        for i in range(3):
            time.sleep(STREAM_PAUSE)
            yield b"chunk %d\n" % i
    return flask.Response(chunks())
