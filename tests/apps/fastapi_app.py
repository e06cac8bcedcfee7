import asyncio

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, StreamingResponse

from apptuit_like.integrations.asgi import ApptuitASGIMiddleware
from common import STREAM_PAUSE, registry

app = FastAPI()
app.add_middleware(ApptuitASGIMiddleware, registry=registry)


@app.get("/orders/{id}", response_class=PlainTextResponse)
async def order(id: int):
    return "order %d" % id


@app.post("/orders", response_class=PlainTextResponse, status_code=201)
async def create():
    return "created"


@app.get("/boom")
async def boom():
    raise ValueError("boom")


@app.get("/stream")
async def stream():
    async def chunks():
        for i in range(3):
            await asyncio.sleep(STREAM_PAUSE)
            yield b"chunk %d\n" % i
    return StreamingResponse(chunks())
