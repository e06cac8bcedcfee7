"""Real prefork and multi-worker servers counting requests, read back from VictoriaMetrics.

The application module builds and starts its reporter at import, as a user's
would; only the environment says where points go and which directory the
workers share. Each test drives N requests, waits until the stored series
shows N (bounded; the TSDB cannot notify), stops the server the way an
operator does, and checks the series again.
"""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from apptuit_like.testing import free_port

pytestmark = pytest.mark.slow
INTERVAL = 1.0

APP = textwrap.dedent("""
    import os
    from pyformance import MetricsRegistry
    from apptuit_like.pyformance import ApptuitReporter

    registry = MetricsRegistry()
    orders = registry.counter("orders")
    reporter = ApptuitReporter(registry=registry, tags={"test": os.environ["TEST_UID"]},
                               reporting_interval=float(os.environ["TEST_INTERVAL"]))
    reporter.start()


    def app(environ, start_response):            # WSGI, for gunicorn
        orders.inc()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


    async def asgi(scope, receive, send):        # ASGI, for uvicorn
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        orders.inc()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
""")


@pytest.fixture
def service(vm, tmp_path, uid):
    """Start a server command in a directory holding app.py; stop it at the end."""
    (tmp_path / "app.py").write_text(APP)
    env = dict(os.environ, TEST_UID=uid, TEST_INTERVAL=str(INTERVAL),
               APPTUIT_API_ENDPOINT=vm.put_endpoint,
               APPTUIT_MULTIPROCESS_DIR=str(tmp_path / "metrics"),
               PYTHONPATH=str(tmp_path))
    started = []

    def start(args, port):
        process = subprocess.Popen(args, cwd=str(tmp_path), env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=True)   # a service of its own
        started.append(process)
        wait_for_port(port, process)
        return process
    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for_port(port, process, limit=30.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("server exited: %s" % process.stderr.read().decode()[-2000:])
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail("server did not listen on %d within %.0fs" % (port, limit))


def drive(port, n):
    with requests.Session() as session:
        for _ in range(n):
            assert session.get("http://127.0.0.1:%d/" % port, timeout=30).text == "ok"


def stored(vm, uid):
    """{tags: latest value} of every orders_count series of this test."""
    return {tags: points[-1][1] for (_, tags), points in
            vm.series('orders_count{test="%s"}' % uid).items()}


def wait_for_total(vm, uid, n, limit=10 * INTERVAL):
    """The stored series once it shows ``n`` (or what it showed at the deadline)."""
    deadline = time.monotonic() + limit
    while True:
        series = stored(vm, uid)
        if list(series.values()) == [n] or time.monotonic() > deadline:
            return series
        time.sleep(INTERVAL / 4)


def stop(process, sig, limit=60):
    process.send_signal(sig)
    assert process.wait(limit) == 0, process.stderr.read().decode()[-2000:]


@pytest.mark.parametrize("options", [["-w", "4"], ["-w", "3", "--preload"],
                                     ["-w", "2", "--max-requests", "50"]],
                         ids=["w4", "w3-preload", "w2-max-requests"])
def test_gunicorn_workers_report_one_exact_series(vm, uid, service, options):
    port = free_port()
    server = service([sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:%d" % port,
                      "--graceful-timeout", "20"] + options + ["app:app"], port)
    n = 400
    drive(port, n)
    running = wait_for_total(vm, uid, n)
    assert list(running.values()) == [n], running   # one series, the exact total
    stop(server, signal.SIGTERM)
    assert list(stored(vm, uid).values()) == [n]


def test_uvicorn_spawned_workers_report_one_exact_series(vm, uid, service):
    port = free_port()
    server = service([sys.executable, "-m", "uvicorn", "--workers", "2", "--port", str(port),
                      "--interface", "asgi3", "app:asgi"], port)
    n = 300
    drive(port, n)
    running = wait_for_total(vm, uid, n)
    assert list(running.values()) == [n], running
    stop(server, signal.SIGINT)   # Ctrl-C
    assert list(stored(vm, uid).values()) == [n]
