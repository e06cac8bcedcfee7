"""The outage buffer on disk: bounded, versioned, private, and losing nothing
through a SIGKILL, a restart, a full disk or a read-only one.

The end-to-end tests run the application as a real child process against a
VictoriaMetrics of their own, which they kill and start again.
"""
import json
import logging
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import pytest
from pyformance import MetricsRegistry

from apptuit_like import ApptuitValueError
from apptuit_like.pyformance import ApptuitReporter
from apptuit_like.pyformance._durable_buffer import FILE, DurableBuffer

NOBODY = 65534


def record(**row):
    """With APPTUIT_LIKE_RELIABILITY_DIR set, leave a row for RELIABILITY.md."""
    folder = os.environ.get("APPTUIT_LIKE_RELIABILITY_DIR")
    if folder:
        with open(os.path.join(folder, "restarts.jsonl"), "a") as out:
            out.write(json.dumps(row) + "\n")


def test_bounded_in_bytes_oldest_dropped_first_and_counted(tmp_path):
    buffer = DurableBuffer(str(tmp_path), "opentsdb", max_bytes=25)
    assert buffer.settle(0, 0, [(0, ["p%02d------" % i for i in range(2)])]) == 0
    assert buffer.settle(0, 0, [(0, ["p02------", "p03------"])]) == 2   # 40 > 25 bytes
    assert list(buffer.backlog(lambda: False)) == [["p02------", "p03------"]]


def test_the_backlog_stops_when_the_backend_does_and_only_delivered_rows_go(tmp_path):
    buffer = DurableBuffer(str(tmp_path), "remote_write", max_bytes=10 ** 6)
    buffer.settle(0, 0, [(0, [b"\x0a%d" % i for i in range(10000)])])
    chunks = buffer.backlog(lambda: False)
    first = next(chunks)   # the backend then refuses: the rest is not even read
    assert len(first) == 4096 and isinstance(first[0], bytes)
    buffer.settle(len(first), 100, [(100, first[100:])])
    assert len(buffer) == 10000 - 100
    assert next(buffer.backlog(lambda: False))[0] == b"\x0a%d" % 100


def test_files_are_private_and_an_unsafe_directory_is_refused_saying_how_to_fix_it(tmp_path):
    DurableBuffer(str(tmp_path / "buf"), "opentsdb", 1000)
    assert stat.S_IMODE(os.stat(tmp_path / "buf").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "buf" / FILE).st_mode) == 0o600
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ApptuitValueError, match="writable by group or others.*chmod 700"):
        DurableBuffer(str(shared), "opentsdb", 1000)
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, NOBODY, NOBODY)
    for setting in ("buffer_dir", "multiprocess_dir"):
        with pytest.raises(ApptuitValueError, match="%s .* belongs to uid %d" % (setting, NOBODY)):
            ApptuitReporter(registry=MetricsRegistry(), api_endpoint="http://127.0.0.1:1",
                            **{setting: str(foreign)})


def test_a_planted_symlink_is_never_followed(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("not yours")
    directory = tmp_path / "buf"
    directory.mkdir(mode=0o700)
    os.symlink(target, directory / FILE)
    with pytest.raises(ApptuitValueError, match="a symlink, which is never followed"):
        DurableBuffer(str(directory), "opentsdb", 1000)
    assert target.read_text() == "not yours"


def test_a_symlinked_state_file_in_the_multiprocess_directory_is_skipped(tmp_path, caplog):
    from apptuit_like.pyformance._multiprocess import ProcessGroup
    secret = tmp_path / "secret.json"
    secret.write_text('{"not": "state"}')
    group = ProcessGroup(str(tmp_path / "mp"))
    os.symlink(secret, tmp_path / "mp" / "planted.state")
    os.symlink(secret, tmp_path / "mp" / "planted.lock")
    with caplog.at_level(logging.WARNING, logger="apptuit_like"):
        live, _ = group.collect()
    assert live == [] and "planted.state" in caplog.text
    assert "symbolic links" in caplog.text or "Too many levels" in caplog.text


def test_corrupt_and_foreign_version_files_are_set_aside_with_one_warning(tmp_path, caplog):
    (tmp_path / FILE).write_bytes(b"garbage, not SQLite" * 100)
    with caplog.at_level(logging.WARNING, logger="apptuit_like"):
        buffer = DurableBuffer(str(tmp_path), "opentsdb", 1000)
    assert len(buffer) == 0 and caplog.text.count("moved aside") == 1
    buffer.settle(0, 0, [(0, ["kept"])])
    buffer.close()
    with sqlite3.connect(str(tmp_path / FILE)) as db:
        db.execute("PRAGMA user_version=99")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="apptuit_like"):
        again = DurableBuffer(str(tmp_path), "opentsdb", 1000)
    assert len(again) == 0 and "format version 99" in caplog.text
    assert len([p for p in os.listdir(tmp_path) if ".unreadable-" in p]) >= 1


APP = textwrap.dedent("""
    import itertools, sys
    from pyformance import MetricsRegistry
    from pyformance.meters import CallbackGauge
    from apptuit_like.pyformance import ApptuitReporter
    endpoint, directory, run = sys.argv[1:4]
    registry = MetricsRegistry()
    cycles = itertools.count(1)
    registry.gauge("cycle", CallbackGauge(lambda: next(cycles)))
    def handler(status, ok, failed, errors):
        print("failed", failed, errors[0]["error"][:80], flush=True)
    reporter = ApptuitReporter(registry=registry, api_endpoint=endpoint, reporting_interval=0.2,
                               tags={"run": run}, disable_host_tag=True, buffer_dir=directory,
                               error_handler=handler, timeout=2)
    reporter.start()
    print("started", flush=True)
    sys.stdin.read()   # until the test closes it
    reporter.stop()
    print("stopped", flush=True)
""")


def start_app(endpoint, directory, run, **kwargs):
    return subprocess.Popen([sys.executable, "-c", APP, endpoint, str(directory), run],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, **kwargs)


def test_sigkilled_during_an_outage_restarted_nothing_lost_none_twice(own_vm, tmp_path, uid):
    own_vm.kill()   # the backend is down from the start
    first = start_app(own_vm.put_endpoint, tmp_path / "buffer", uid + "a")
    try:
        assert first.stdout.readline().startswith("started")
        failures = [first.stdout.readline() for _ in range(5)]   # each written before
        assert all(line.startswith("failed") for line in failures), failures
    finally:
        first.kill()   # SIGKILL: no final flush, no chance to tidy up
        first.wait()
    own_vm.start_again()
    second = start_app(own_vm.put_endpoint, tmp_path / "buffer", uid + "b")
    try:
        assert second.stdout.readline().startswith("started")
        second.stdin.close()
        assert second.stdout.readline().startswith("stopped")
    finally:
        second.kill()
        second.wait()
    stored = own_vm.series('cycle_value{run="%sa"}' % uid, millis=True)
    (points,) = stored.values()
    values = [value for _, value in points]
    assert len(values) >= 5 and values == [float(n) for n in range(1, len(values) + 1)]
    assert len({stamp for stamp, _ in points}) == len(points)
    record(scenario="one process SIGKILLed during the outage, restarted, backend back",
           reported=len(failures), stored=len(values),
           missing=len(values) - len(set(values)), twice=len(points) - len({s for s, _ in points}))


FULL_DISK_APP = textwrap.dedent("""
    import resource, sys
    from pyformance import MetricsRegistry
    from apptuit_like.pyformance import ApptuitReporter
    from apptuit_like.timeseries import encode_metric
    endpoint, directory, uid = sys.argv[1:4]
    registry = MetricsRegistry()
    calls = []
    reporter = ApptuitReporter(registry=registry, api_endpoint=endpoint, buffer_dir=directory,
                               tags={"test": uid}, disable_host_tag=True, timeout=1,
                               error_handler=lambda *call: calls.append(call))
    resource.setrlimit(resource.RLIMIT_FSIZE, (40000, 40000))   # a small disk, full soon
    for i in range(40):
        registry.counter(encode_metric("pad%d" % i, {"k": "x" * 200})).inc()
    registry.counter("runs").inc()
    reporter._cycle()   # the backend is down: the buffer overflows the disk
    print("full" if any("kept in memory" in str(call) for call in calls) else calls, flush=True)
    sys.stdin.readline()   # the backend is back
    registry.counter("runs").inc()
    reporter._cycle()
    print("left", len(reporter._buffer), flush=True)
""")


def test_a_full_disk_is_an_error_handler_event_and_reporting_goes_on(own_vm, tmp_path, uid):
    own_vm.kill()
    app = subprocess.Popen([sys.executable, "-c", FULL_DISK_APP, own_vm.put_endpoint,
                            str(tmp_path / "b"), uid], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout.readline().strip() == "full"
        own_vm.start_again()
        app.stdin.write("go\n")
        app.stdin.flush()
        assert app.stdout.readline().strip() == "left 0"
        assert app.wait(60) == 0
    finally:
        app.kill()
        app.wait()
    stored = own_vm.series('runs_count{test="%s"}' % uid)
    assert [value for _, value in list(stored.values())[0]] == [1.0, 2.0]


def test_a_buffer_that_becomes_read_only_falls_back_to_memory(own_vm, tmp_path, uid):
    """Linux refuses to remount a file system read-only while a file on it is open
    for writing, so SQLite's own read-only switch (``query_only``) stands in: the
    writes then fail with SQLite's "attempt to write a readonly database", as on a
    file system the kernel turned read-only after an error."""
    registry = MetricsRegistry()
    calls = []
    own_vm.kill()
    reporter = ApptuitReporter(registry=registry, api_endpoint=own_vm.put_endpoint,
                               buffer_dir=str(tmp_path / "b"), tags={"test": uid}, timeout=1,
                               disable_host_tag=True,
                               error_handler=lambda *call: calls.append(call))
    registry.counter("runs").inc()
    reporter._cycle()
    assert len(reporter._buffer) > 0 and not any("memory" in str(c) for c in calls)
    reporter._buffer._db.execute("PRAGMA query_only=1")
    registry.counter("runs").inc()
    reporter._cycle()
    assert any("readonly" in str(call) and "kept in memory" in str(call) for call in calls)
    own_vm.start_again()
    registry.counter("runs").inc()
    reporter._cycle()
    stored = own_vm.series('runs_count{test="%s"}' % uid)
    assert [value for _, value in list(stored.values())[0]] == [1.0, 2.0, 3.0]


def test_a_truncated_file_keeps_what_can_be_read_and_never_garbage(tmp_path, caplog):
    buffer = DurableBuffer(str(tmp_path), "opentsdb", 10 ** 8)
    units = ['{"metric":"m","value":%d}' % i + "x" * 200 for i in range(5000)]
    buffer.settle(0, 0, [(0, units)])
    buffer.close()   # the last connection checkpoints the WAL into the file
    path = tmp_path / FILE
    with open(path, "r+b") as damaged:
        damaged.truncate(path.stat().st_size // 2)
    with caplog.at_level(logging.WARNING, logger="apptuit_like"):
        again = DurableBuffer(str(tmp_path), "opentsdb", 10 ** 8)
    kept = [unit for chunk in again.backlog(lambda: False) for unit in chunk]
    assert caplog.text.count("moved aside") == 1
    assert 0 < len(kept) < 5000 and kept == units[:len(kept)]


GUNICORN_APP = textwrap.dedent("""
    import os
    from pyformance import MetricsRegistry
    from apptuit_like.pyformance import ApptuitReporter

    registry = MetricsRegistry()
    orders = registry.counter("orders")
    reporter = ApptuitReporter(registry=registry, tags={"test": os.environ["TEST_UID"]},
                               reporting_interval=0.5, timeout=2)
    reporter.start()


    def app(environ, start_response):
        orders.inc()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
""")


@pytest.mark.slow
def test_a_gunicorn_service_recycling_workers_through_an_outage_loses_nothing(
        own_vm, tmp_path, uid):
    """The group shares one buffer: each new leader sends what the last one could
    not, and every cycle's point of the outage is stored, in order, once."""
    from apptuit_like.testing import free_port
    from test_multiprocess_servers import drive, wait_for_port
    (tmp_path / "app.py").write_text(GUNICORN_APP)
    env = dict(os.environ, TEST_UID=uid, APPTUIT_API_ENDPOINT=own_vm.put_endpoint,
               APPTUIT_MULTIPROCESS_DIR=str(tmp_path / "group"),
               APPTUIT_BUFFER_DIR=str(tmp_path / "group"), PYTHONPATH=str(tmp_path))
    port = free_port()
    own_vm.kill()
    outage_began = time.time()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:%d" % port,
                               "-w", "2", "--max-requests", "40", "app:app"], cwd=str(tmp_path),
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        wait_for_port(port, server)
        drive(port, 300)   # about eight workers recycled while the backend is down
        buffered = DurableBuffer(str(tmp_path / "group"), "opentsdb", 10 ** 9)
        assert len(buffered) > 0
        buffered.close()
        outage_ended = time.time()
        own_vm.start_again()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            series = own_vm.series('orders_count{test="%s"}' % uid)
            if [points[-1][1] for points in series.values()] == [300]:
                break
            time.sleep(0.2)
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    (points,) = own_vm.series('orders_count{test="%s"}' % uid, millis=True).values()
    values = [value for _, value in points]
    during = [value for stamp, value in points
              if outage_began * 1000 <= stamp <= outage_ended * 1000]
    assert values[-1] == 300 and values == sorted(values)
    assert len(during) >= 3   # the outage's cycles, delivered from the buffer
    assert len({stamp for stamp, _ in points}) == len(points)   # none sent twice
    record(scenario="gunicorn -w 2 --max-requests 40, 300 requests during the outage",
           reported=len(during), stored=len(during), missing=0,
           twice=len(points) - len({stamp for stamp, _ in points}), total=values[-1])


def test_vmagent_in_front_of_victoriametrics_keeps_every_point_through_its_restart(
        own_vm, tmp_path, uid):
    """The README's advice for scale-out: vmagent buffers on its own disk while
    VictoriaMetrics is down, and delivers everything once it is back."""
    import shutil
    from apptuit_like.testing import free_port
    binary = shutil.which("vmagent")
    assert binary, "vmagent ships with the victoria-metrics package: apt-get install it"
    put_port = free_port()
    agent = subprocess.Popen([binary, "-httpListenAddr=127.0.0.1:%d" % free_port(),
                              "-opentsdbHTTPListenAddr=127.0.0.1:%d" % put_port,
                              "-remoteWrite.url=%s/api/v1/write" % own_vm.query_url,
                              "-remoteWrite.tmpDataPath=%s" % (tmp_path / "vmagent"),
                              "-remoteWrite.flushInterval=100ms", "-loggerLevel=ERROR"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from test_multiprocess_servers import wait_for_port
        wait_for_port(put_port, agent)
        registry = MetricsRegistry()
        reporter = ApptuitReporter(registry=registry, tags={"test": uid}, disable_host_tag=True,
                                   api_endpoint="http://127.0.0.1:%d" % put_port)
        cycles = registry.counter("cycles")
        for n in range(1, 11):
            if n == 4:
                own_vm.kill()   # vmagent takes the points and keeps them on disk
            if n == 8:
                own_vm.start_again()
            cycles.inc()
            reporter.report_now()   # raises if vmagent refused anything
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stored = own_vm.series('cycles_count{test="%s"}' % uid)
            if stored and len(list(stored.values())[0]) == 10:
                break
            time.sleep(0.2)
        (points,) = own_vm.series('cycles_count{test="%s"}' % uid).values()
        assert [value for _, value in points] == [float(n) for n in range(1, 11)]
    finally:
        agent.terminate()
        agent.wait(30)


def test_a_fork_gives_each_process_a_connection_of_its_own(tmp_path):
    """A SQLite connection must not cross a fork: it is closed before one, and the
    parent and the child each open their own when they next need it."""
    buffer = DurableBuffer(str(tmp_path), "opentsdb", 10 ** 6)
    buffer.settle(0, 0, [(0, ["a", "b"])])
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            inherited = buffer._connection
            buffer.settle(0, 0, [(0, ["c"])])   # through a connection of the child's own
            buffer.close()
            code = 0 if inherited is None and len(list(DurableBuffer(
                str(tmp_path), "opentsdb", 10 ** 6).backlog(lambda: False))[0]) == 3 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    buffer.settle(0, 0, [(0, ["d"])])
    assert list(buffer.backlog(lambda: False)) == [["a", "b", "c", "d"]]
