"""The web and worker integrations in real frameworks under real servers, read
back from VictoriaMetrics.

Each app in tests/apps builds its reporter at import as a user's module would and
serves the same routes: /orders/{id}, POST /orders, /boom (raises ValueError),
/stream (three chunks, 0.15 s), anything else a 404. Several worker processes
share APPTUIT_MULTIPROCESS_DIR, so the stored totals must be exact however the
server spreads the requests.
"""
import os
import pathlib
import signal
import sys
import time

import pytest
import requests

from apptuit_like.testing import free_port
from test_multiprocess_servers import services

pytestmark = pytest.mark.slow
APPS = pathlib.Path(__file__).parent / "apps"
LOAD = [("GET", "/orders/%d", 20, "/orders/{id}", "2xx"),
        ("POST", "/orders", 6, "/orders", "2xx"),
        ("GET", "/boom", 5, "/boom", "5xx"),
        ("GET", "/stream", 3, "/stream", "2xx"),
        ("GET", "/nowhere/%d", 4, "unmatched", "4xx")]
EXPECTED = {(method, route, status): n for method, _, n, route, status in LOAD}
BOUND = 15.0   # seconds for the stored series to show the load


@pytest.fixture
def serve(vm, uid, tmp_path):
    """Start a server command over tests/apps; it is killed at the end if still up."""
    env = dict(os.environ, TEST_UID=uid, APPTUIT_API_ENDPOINT=vm.put_endpoint,
               APPTUIT_MULTIPROCESS_DIR=str(tmp_path / "metrics"),
               TEST_BROKER_DIR=str(tmp_path / "broker"),
               PYTHONPATH=os.pathsep.join([str(APPS), os.environ.get("PYTHONPATH", "")]))
    (tmp_path / "broker").mkdir()
    (tmp_path / "broker-done").mkdir()
    with services(tmp_path, env) as start:
        yield start


def drive(port):
    """The LOAD, one request at a time; every answer must be the one expected. Each
    on a connection of its own: uvicorn closes one after an exception."""
    for method, path, n, _, status in LOAD:
        for i in range(n):
            url = "http://127.0.0.1:%d%s" % (port, path.replace("%d", str(i)))
            answer = requests.request(method, url, timeout=30)
            assert "%dxx" % (answer.status_code // 100) == status, (url, answer.text)


def stored(vm, uid, metric, by=("method", "route", "status")):
    """{tag values: newest value} of this test's series of ``metric``."""
    return {tuple(dict(tags)[key] for key in by): points[-1][1] for (_, tags), points
            in vm.series('%s{test="%s"}' % (metric, uid)).items()}


def wait_for(vm, uid, metric, expected, by=("method", "route", "status")):
    """The stored values of ``metric`` once they equal ``expected`` (or at BOUND)."""
    deadline = time.monotonic() + BOUND
    while True:
        found = stored(vm, uid, metric, by)
        if found == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def assert_requests_recorded(vm, uid):
    """Counts by method, route template and status class, durations, exceptions by
    type and nothing left in flight, all exact across the workers."""
    assert wait_for(vm, uid, "http_server_requests_count", EXPECTED) == EXPECTED
    assert stored(vm, uid, "http_server_request_duration_count") == EXPECTED
    assert stored(vm, uid, "http_server_exceptions_count",
                  ("method", "route", "exception")) == {("GET", "/boom", "ValueError"): 5}
    fastest_stream = stored(vm, uid, "http_server_request_duration_min")[
        "GET", "/stream", "2xx"]
    assert fastest_stream >= 0.15   # timed to the end of the body, not its first byte
    in_flight = stored(vm, uid, "http_server_active_requests_value", ("worker_id",))
    assert in_flight and sum(in_flight.values()) == 0, in_flight


def gunicorn(port, app, *options):
    return [sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:%d" % port, "-w", "2",
            "--graceful-timeout", "20", *options, app]


def gunicorn_uvicorn_workers(port, app):
    return gunicorn(port, app, "-k", "uvicorn.workers.UvicornWorker")


def uvicorn(port, app, *options):
    return [sys.executable, "-m", "uvicorn", "--port", str(port), *options, app]


def uvicorn_workers(port, app):
    return uvicorn(port, app, "--workers", "2")


def hypercorn(port, app, *options):
    return [sys.executable, "-m", "hypercorn", "-b", "127.0.0.1:%d" % port, *options, app]


def hypercorn_workers(port, app):
    return hypercorn(port, app, "-w", "2")


def to_group(sig):
    """``sig`` to the server's whole process group, as Ctrl-C in its terminal sends it."""
    def send(process):
        os.killpg(process.pid, sig)
    send.__name__ = "%s-to-the-group" % sig.name
    return send


# Each server stopped as its operator would, right after the load: the reporting
# interval (60 s) is longer than the test, so only the reports at the stop can
# have stored the counts. The server ends with the status it has without the
# reporter's signal handling (a run with APPTUIT_HANDLE_SIGNALS=off tells it).
@pytest.mark.parametrize("server, app, sig", [
    (gunicorn, "flask_app:app", signal.SIGTERM), (gunicorn, "django_app:app", signal.SIGTERM),
    (gunicorn, "raw_app:wsgi_app", signal.SIGTERM),
    (gunicorn_uvicorn_workers, "fastapi_app:app", signal.SIGTERM),
    (uvicorn, "fastapi_app:app", signal.SIGTERM), (uvicorn, "fastapi_app:app", signal.SIGINT),
    (uvicorn_workers, "fastapi_app:app", signal.SIGTERM),
    (uvicorn_workers, "fastapi_app:app", to_group(signal.SIGINT)),
    (uvicorn_workers, "raw_app:asgi_app", signal.SIGTERM),
    (hypercorn, "fastapi_app:app", signal.SIGTERM),
    (hypercorn_workers, "fastapi_app:app", signal.SIGTERM)],
    ids=lambda value: (getattr(value, "__name__", None) or getattr(value, "name", None)
                         or str(value).split(".")[-1]))
def test_web_apps_stopped_within_the_interval_keep_every_count(vm, uid, serve, tmp_path,
                                                               server, app, sig):
    def run(**env):
        port = free_port()
        process = serve(server(port, app), port, TEST_INTERVAL="60", **env)
        drive(port)
        sig(process) if callable(sig) else process.send_signal(sig)
        process.wait(60)
        return process.returncode, process.stderr.read().decode()[-2000:]
    plain_status, _ = run(TEST_UID=uid + "plain", APPTUIT_HANDLE_SIGNALS="off",
                          APPTUIT_MULTIPROCESS_DIR=str(tmp_path / "plain"))
    status, log = run()
    assert status == plain_status, log
    assert_requests_recorded(vm, uid)


# hypercorn -w 2 cuts a response in flight at SIGTERM, so it is left out here
@pytest.mark.parametrize("server", [uvicorn_workers, uvicorn, hypercorn])
def test_a_request_in_flight_at_sigterm_is_counted_at_the_lifespan_shutdown(vm, uid, serve,
                                                                            server):
    port = free_port()
    process = serve(server(port, "fastapi_app:app"), port, TEST_INTERVAL="60",
                    TEST_STREAM_PAUSE="1.0")
    with requests.get("http://127.0.0.1:%d/stream" % port, stream=True, timeout=30) as answer:
        chunks = answer.iter_content(chunk_size=None)
        assert next(chunks) == b"chunk 0\n"   # in flight: two more chunks, 2 s, to come
        process.send_signal(signal.SIGTERM)
        assert b"".join(chunks) == b"chunk 1\nchunk 2\n"   # a graceful shutdown
    process.wait(60)
    expected = {("GET", "/stream", "2xx"): 1}
    assert wait_for(vm, uid, "http_server_requests_count", expected) == expected


SENT = {"orders.ship": 20, "orders.fail": 5, "orders.flaky": 4}   # flaky retries once
TASKS = {("orders.ship", "success"): 20, ("orders.fail", "failure"): 5,
         ("orders.flaky", "retry"): 4, ("orders.flaky", "success"): 4}


@pytest.mark.parametrize("recycle", [[], ["--max-tasks-per-child", "3"]],
                         ids=["children-kept", "children-recycled"])
def test_celery_prefork_worker_counts_tasks_by_outcome(vm, uid, serve, tmp_path, recycle):
    from celery import Celery
    worker = serve([sys.executable, "-m", "celery", "-A", "celery_app", "worker",
                    "--pool", "prefork", "--concurrency", "2", "--loglevel", "warning"]
                   + recycle, TEST_INTERVAL="60")
    folder = str(tmp_path / "broker")
    sender = Celery("sender", broker="filesystem://")
    sender.conf.broker_transport_options = {"data_folder_in": folder, "data_folder_out": folder,
                                            "control_folder": folder + "-control"}
    for task, n in SENT.items():
        for i in range(n):
            sender.send_task(task, args=(i,))
    runs = sum(TASKS.values())
    deadline = time.monotonic() + BOUND
    while len(os.listdir(folder + "-done")) < runs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(os.listdir(folder + "-done")) == runs
    # a warm shutdown within the interval: only the reports at the stop store the counts
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.stderr.read().decode()[-2000:]
    by = ("task", "outcome")
    assert wait_for(vm, uid, "celery_tasks_count", TASKS, by) == TASKS
    assert stored(vm, uid, "celery_task_runtime_count", by) == TASKS
    assert stored(vm, uid, "celery_task_exceptions_count", ("task", "exception")) == {
        ("orders.fail", "KeyError"): 5}
