"""A fault-injecting TCP proxy for the tests, on asyncio in a thread of its own.

It sits between the client and a server on loopback and, by ``mode``:

- ``pass``: forwards both ways;
- ``reset``: accepts each connection and resets it at once;
- ``blackhole``: accepts, reads, never answers;
- ``slow``: forwards the request, holds the answer back for ``delay`` seconds;
- ``close_mid_answer``: forwards the request, sends the start of the answer's status
  line, closes.

Changing the mode drops every open connection, so that a client's pooled
keep-alive connection meets the new mode on its next request.
"""
import asyncio
import threading
from typing import Set

MODES = ("pass", "reset", "blackhole", "slow", "close_mid_answer")


class FaultProxy:
    def __init__(self, target_port: int, delay: float = 3.0) -> None:
        self.target_port = target_port
        self.delay = delay
        self._mode = "pass"
        self._writers: Set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="fault-proxy")
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def endpoint(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError("unknown mode %r" % mode)
        self._mode = mode
        self._call(self._drop_all())

    def stop(self) -> None:
        self._call(self._close())   # asyncio objects are touched in their loop only
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _close(self) -> None:
        self._server.close()
        await self._drop_all()

    async def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        mode = self._mode
        if mode == "reset":
            writer.transport.abort()   # RST: "connection reset by peer"
            return
        self._writers.add(writer)
        try:
            if mode == "blackhole":
                while await reader.read(65536):
                    pass
                return
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1",
                                                                     self.target_port)
            except OSError:   # the server is down: the client sees the door shut
                writer.transport.abort()
                return
            self._writers.add(up_writer)
            upstream = asyncio.ensure_future(self._pump(reader, up_writer))
            try:
                await self._answer(mode, up_reader, writer)
            finally:
                upstream.cancel()
                up_writer.transport.abort()
                self._writers.discard(up_writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _answer(self, mode: str, up_reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        while True:
            chunk = await up_reader.read(65536)
            if not chunk:
                return
            if mode == "slow":
                await asyncio.sleep(self.delay)
            if mode == "close_mid_answer":   # inside the status line: a 204's headers
                writer.write(chunk[:min(10, len(chunk) // 2)])   # cut short still parse
                await writer.drain()
                return
            writer.write(chunk)
            await writer.drain()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass
