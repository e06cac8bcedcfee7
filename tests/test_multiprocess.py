"""Reporters of several real processes sharing a directory, against VictoriaMetrics.

Children are made with os.fork (as prefork servers make them) or a
multiprocessing pool; pipes say when a child has reached a point, so nothing
waits on a timer. The reporting interval is an hour wherever the test must
show that the exit flush, not a periodic report, delivered the counts.
"""
import contextlib
import logging
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest
from pyformance import MetricsRegistry
from pyformance.meters import SimpleGauge

from apptuit_like import ApptuitValueError
from apptuit_like.pyformance import ApptuitReporter
from apptuit_like.pyformance._multiprocess import ProcessGroup

HOUR = 3600


def make_reporter(vm, directory, uid, **options):
    registry = MetricsRegistry()
    options.setdefault("reporting_interval", HOUR)
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               tags={"test": uid}, multiprocess_dir=str(directory),
                               error_handler=None, **options)
    return registry, reporter


def latest(vm, metric, uid):
    """{tags without test: latest value} of every stored series of a metric."""
    return {tuple(kv for kv in tags if kv[0] not in ("test", "host")): points[-1][1]
            for (_, tags), points in vm.series('%s{test="%s"}' % (metric, uid)).items()}


def in_child(work):
    """Run ``work()`` in a forked child; return its pid. The child never returns
    into pytest: it leaves with os._exit, 0 when ``work`` went well."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            work()
            code = 0
        finally:
            os._exit(code)
    return pid


@contextlib.contextmanager
def child_process(work):
    """``in_child`` for a child the test talks to: killed and reaped on the way
    out, so a failing test never leaves it waiting for a parent that moved on."""
    pid = in_child(work)
    try:
        yield pid
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def wait_ok(pid):
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_forked_child_starts_from_zero_and_totals_are_exact(vm, tmp_path, uid):
    registry, reporter = make_reporter(vm, tmp_path, uid)
    reporter.start()
    registry.counter("orders").inc(5)

    def child():
        registry.counter("orders").inc(3)   # on top of zero, not of the parent's 5
        reporter.stop()
    wait_ok(in_child(child))
    registry.counter("orders").inc(1)
    reporter.stop()
    assert latest(vm, "orders_count", uid) == {(): 9}


def test_a_killed_worker_keeps_its_counts_up_to_its_last_contribution(vm, tmp_path, uid):
    registry, reporter = make_reporter(vm, tmp_path, uid)
    reporter.start()
    registry.counter("orders").inc(5)
    ready_r, ready_w = os.pipe()

    def child():
        registry.counter("orders").inc(7)
        reporter.report_now()               # its contribution, published
        registry.counter("orders").inc(100)   # never published: lost with the process
        os.write(ready_w, b"x")
        signal.pause()
    with child_process(child):
        assert os.read(ready_r, 1) == b"x"
    registry.counter("orders").inc(1)
    reporter.stop()
    assert latest(vm, "orders_count", uid) == {(): 13}
    states = [n for n in os.listdir(tmp_path) if n.endswith(".state")]
    assert [n.split("-")[0] for n in states] == [str(os.getpid())]   # the child's: absorbed


def count_in_pool(count):
    # runs in a pool worker; the registry is the module-level one of the test below
    POOL_BARRIER.wait(timeout=60)   # three tasks at once: three different workers
    POOL_REGISTRY.counter("tasks").inc(count)
    return os.getpid()


def set_barrier(barrier):
    global POOL_BARRIER
    POOL_BARRIER = barrier


POOL_REGISTRY = MetricsRegistry()
POOL_BARRIER = None


def test_fork_pool_workers_flush_at_exit(vm, tmp_path, uid):
    reporter = ApptuitReporter(registry=POOL_REGISTRY, api_endpoint=vm.put_endpoint,
                               tags={"test": uid}, multiprocess_dir=str(tmp_path),
                               reporting_interval=HOUR, error_handler=None)
    reporter.start()
    POOL_REGISTRY.counter("tasks").inc(2)   # the parent's own share
    context = multiprocessing.get_context("fork")
    with context.Pool(3, initializer=set_barrier, initargs=(context.Barrier(3),)) as pool:
        pids = pool.map(count_in_pool, [100, 100, 100], chunksize=1)
        pool.close()
        pool.join()   # workers leave through os._exit: only the finalizer flushes them
    reporter.stop()
    assert len(set(pids)) == 3
    assert latest(vm, "tasks_count", uid) == {(): 302}


def count_once(count):
    POOL_REGISTRY.counter("jobs").inc(count)
    return os.getpid()


def test_a_churning_pool_never_stamps_ahead_of_the_clock(vm, tmp_path, uid):
    # a worker per task: 30 exits, each a final send of the group (whole-second
    # stamps pushed the group's clock 30 s ahead)
    interval = 0.5
    reporter = ApptuitReporter(registry=POOL_REGISTRY, api_endpoint=vm.put_endpoint,
                               tags={"test": uid}, multiprocess_dir=str(tmp_path),
                               reporting_interval=interval, error_handler=None)
    reporter.start()
    context = multiprocessing.get_context("fork")
    with context.Pool(2, maxtasksperchild=1) as pool:
        pids = pool.map(count_once, [10] * 30, chunksize=1)
        pool.close()
        pool.join()
    ended = time.monotonic()
    assert len(set(pids)) == 30
    selector = '{test="%s"}' % uid
    while latest(vm, "jobs_count", uid) != {(): 300}:   # the newest sample, exact
        assert time.monotonic() < ended + 2 * interval + 0.5, latest(vm, "jobs_count", uid)
        time.sleep(0.05)
    assert vm.ahead_of_clock(selector) <= 0.005
    reporter.stop()
    assert vm.ahead_of_clock(selector) <= 0.005
    assert latest(vm, "jobs_count", uid) == {(): 300}


def test_one_series_and_per_process_gauges_while_running(vm, tmp_path, uid):
    registry, reporter = make_reporter(vm, tmp_path, uid)
    registry.add("queue_depth", SimpleGauge(4))
    reporter.start()
    done_r, done_w = os.pipe()
    go_r, go_w = os.pipe()

    def child():
        registry.gauge("queue_depth").set_value(6)
        registry.counter("orders").inc(2)
        reporter.report_now()   # published while both processes are alive
        os.write(done_w, b"x")
        os.read(go_r, 1)
        reporter.stop()
    with child_process(child) as pid:
        assert os.read(done_r, 1) == b"x"
        registry.counter("orders").inc(3)
        reporter.report_now()   # the merged series, both gauges
        gauges = latest(vm, "queue_depth_value", uid)
        assert gauges == {(("worker_id", str(os.getpid())),): 4,
                          (("worker_id", str(pid)),): 6}
        assert latest(vm, "orders_count", uid) == {(): 5}
        os.write(go_w, b"x")
        wait_ok(pid)
    reporter.stop()


def test_meta_metrics_are_merged_too(vm, tmp_path, uid):
    registry, reporter = make_reporter(vm, tmp_path, uid)
    registry.counter("orders").inc()
    reporter.start()
    sent_r, sent_w = os.pipe()

    def child():
        reporter.stop()   # its final send, then its state with that send's counts
        os.write(sent_w, str(reporter.stats()["sent"]).encode())
    wait_ok(in_child(child))
    child_sent = int(os.read(sent_r, 100))
    reporter.report_now()
    parent_sent = reporter.stats()["sent"]
    reporter.stop()   # meta counts of a send show in the next report, as in one process
    assert child_sent > 0 and parent_sent > 0
    merged = latest(vm, "apptuit_reporter_send_successful_count", uid)
    assert merged == {(): child_sent + parent_sent}


def run_alone(vm, directory, uid, count, new_group=False):
    """A worker that builds its own reporter (a prefork master without one keeps
    none), counts and exits; with ``new_group``, as a fresh start of the service."""
    def work():
        if new_group:
            os.setpgid(0, 0)
        registry, reporter = make_reporter(vm, directory, uid)
        reporter.start()
        registry.counter("orders").inc(count)
        reporter.stop()
    wait_ok(in_child(work))


def test_a_new_run_never_inherits_an_earlier_runs_totals(vm, tmp_path, uid):
    run_alone(vm, tmp_path, uid, 40, new_group=True)   # the earlier run's files stay
    assert latest(vm, "orders_count", uid) == {(): 40}
    run_alone(vm, tmp_path, uid, 2)
    assert latest(vm, "orders_count", uid) == {(): 2}


def test_a_worker_recycled_while_no_other_is_alive_continues_the_run(vm, tmp_path, uid):
    run_alone(vm, tmp_path, uid, 4)
    run_alone(vm, tmp_path, uid, 1)   # same process group: the same service
    assert latest(vm, "orders_count", uid) == {(): 5}


def test_files_stay_bounded_across_worker_restarts(vm, tmp_path, uid):
    registry, reporter = make_reporter(vm, tmp_path, uid)
    reporter.start()
    for _ in range(15):
        wait_ok(in_child(lambda: (registry.counter("orders").inc(), reporter.stop())))
        reporter.report_now()
    reporter.report_now()
    assert latest(vm, "orders_count", uid) == {(): 15}
    names = sorted(os.listdir(tmp_path))
    assert len(names) <= 7, names   # ours (state, lock), leader, send, members, archive
    mode = stat.S_IMODE(os.stat(tmp_path / "archive.json").st_mode)
    assert mode == 0o600
    reporter.stop()


def test_corrupt_truncated_and_foreign_files_are_skipped_and_logged(vm, tmp_path, uid,
                                                                       caplog):
    registry, reporter = make_reporter(vm, tmp_path, uid)
    reporter.start()
    (tmp_path / "123-abc.state").write_text('{"format": "apptuit_like.multipro')
    (tmp_path / "999-def.state").write_bytes(os.urandom(200))
    (tmp_path / "777-aaa.state").write_text('{"format": "something else"}')
    registry.counter("orders").inc(3)
    with caplog.at_level(logging.WARNING, logger="apptuit_like"):
        reporter.report_now()
        reporter.report_now()
    assert latest(vm, "orders_count", uid) == {(): 3}
    skipped = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(skipped) == 3   # each logged once, not every cycle
    assert any("123-abc.state" in message for message in skipped)
    reporter.stop()


def test_directory_made_private_and_unwritable_one_refused(tmp_path):
    ProcessGroup(str(tmp_path / "new"))
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ApptuitValueError, match="a-file/dir.*not a writable directory"):
        ApptuitReporter(registry=MetricsRegistry(), api_endpoint="http://127.0.0.1:1",
                        multiprocess_dir=str(tmp_path / "a-file" / "dir"))


def test_environment_variable_sets_the_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("APPTUIT_MULTIPROCESS_DIR", str(tmp_path / "from-env"))
    reporter = ApptuitReporter(registry=MetricsRegistry(), api_endpoint="http://127.0.0.1:1")
    assert reporter._group.directory == str(tmp_path / "from-env")


FORK_WITHOUT_MODE = textwrap.dedent("""
    import logging, os, sys
    from pyformance import MetricsRegistry
    from apptuit_like.pyformance import ApptuitReporter
    logging.basicConfig(stream=sys.stdout, format="%(levelname)s %(message)s")
    reporter = ApptuitReporter(registry=MetricsRegistry(), reporting_interval=3600,
                               api_endpoint="http://127.0.0.1:1", error_handler=None)
    reporter.start()
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    if os.fork() == 0:
        if os.fork() == 0:   # a grandchild warns once more, in its own process
            os._exit(0)
        os.wait()
        os._exit(0)
    os.wait()
""")


def test_a_forked_reporter_without_the_mode_warns_once_per_process():
    out = subprocess.run([sys.executable, "-c", FORK_WITHOUT_MODE], capture_output=True,
                         text=True, timeout=60).stdout
    warnings = [line for line in out.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 4, out   # three children and one grandchild, once each
    assert "overwrite each other" in warnings[0]
    assert "APPTUIT_MULTIPROCESS_DIR" in warnings[0]


@pytest.mark.parametrize("odd_key", [None, "odd\nkey", "carriage\rreturn"])
def test_state_files_round_trip_every_key(odd_key):
    from apptuit_like.pyformance._merge import snapshot
    from apptuit_like.pyformance._state_file import FORMAT, decode, encode
    from apptuit_like.timeseries import encode_metric
    registry = MetricsRegistry()
    registry.counter(encode_metric("orders", {"city": "São \"Paulo\""})).inc(2)
    registry.timer("latency")._update(0.25)
    if odd_key:
        registry.counter(odd_key).inc(1)
    state = {"user": snapshot(registry), "meta": snapshot(MetricsRegistry()),
             "rows": [["python.thread.value", {"type": "alive"}, 3]]}
    text = encode({"format": FORMAT, "member": "1-ab", "pid": 1, "written": 2.0}, state)
    assert (len(text.splitlines()) == 1) == bool(odd_key)   # keys as lines, else inline
    record = decode(text)
    assert record["state"] == state and record["member"] == "1-ab"


def test_state_files_of_empty_and_non_finite_distributions_round_trip():
    # an empty timer's moments are written finite (no Infinity token: the fast
    # parser reads the line); a user's inf sample still round-trips, by json
    import math

    from apptuit_like.pyformance._merge import Merger, snapshot
    from apptuit_like.pyformance._state_file import FORMAT, decode, encode
    header = {"format": FORMAT, "member": "1-ab", "pid": 1, "written": 2.0}
    empty, odd = MetricsRegistry(), MetricsRegistry()
    empty.timer("latency")
    odd.timer("latency")._update(0.5)
    odd.histogram("sizes").add(math.inf)
    texts = [encode(header, {"user": snapshot(r), "meta": snapshot(MetricsRegistry()),
                             "rows": []}) for r in (empty, odd)]
    assert "Infinity" not in texts[0] and "Infinity" in texts[1]
    records = [decode(text) for text in texts]
    count, total, _, high = records[1]["state"]["user"]["histogram"]["sizes"][:4]
    assert (count, total, high) == (1, math.inf, math.inf)
    view = Merger().merge([(str(i), 2.0, r["state"]["user"]) for i, r in enumerate(records)],
                          {})
    # avg, sum, count, max, min of the one sample: the empty process adds nothing
    assert view._timers["latency"].values[:5] == (0.5, 0.5, 1, 0.5, 0.5)


def test_le_buckets_of_live_and_exited_processes_add_up(vm, tmp_path, uid):
    # exact bucket counts (the drop-in registry's) from the parent, a live child and
    # an exited child: each stored le series counts every value at or under it
    from apptuit_like.pyformance import MetricsRegistry as DropInRegistry
    registry = DropInRegistry()
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               tags={"test": uid}, multiprocess_dir=str(tmp_path),
                               error_handler=None, reporting_interval=HOUR,
                               histogram_buckets="le")
    reporter.start()
    values = {"parent": [0.003] * 10, "live": [0.05] * 20, "exited": [2.0] * 5}

    def record(which):
        for value in values[which]:
            registry.timer("latency")._update(value)
        reporter.report_now()
    wait_ok(in_child(lambda: (record("exited"), reporter.stop())))
    ready_r, ready_w = os.pipe()
    with child_process(lambda: (record("live"), os.write(ready_w, b"x"), signal.pause())):
        assert os.read(ready_r, 1) == b"x"
        record("parent")
    reporter.stop()
    every = [v for group in values.values() for v in group]
    stored = latest(vm, "latency_bucket", uid)
    assert stored[(("le", "+Inf"),)] == len(every) == latest(vm, "latency_count", uid)[()]
    for label in ("0.002154", "0.004642", "0.04642", "0.1", "1", "2.154"):
        assert stored[(("le", label),)] == sum(v <= float(label) for v in every), label


def test_without_bucket_series_members_publish_no_bucket_counts(tmp_path):
    from apptuit_like.pyformance._state_file import decode
    registry = MetricsRegistry()
    registry.timer("latency")._update(0.5)
    registry.histogram("sizes").add(3)
    reporter = ApptuitReporter(registry=registry, api_endpoint="http://127.0.0.1:9",
                               multiprocess_dir=str(tmp_path), error_handler=None,
                               reporting_interval=HOUR)
    reporter._group.join()
    try:
        reporter._group.write(reporter._state(registry, []))
        name = [n for n in os.listdir(tmp_path) if n.endswith(".state")][0]
        with open(tmp_path / name) as state_file:
            user = decode(state_file.read())["state"]["user"]
    finally:
        reporter._group.leave()
    assert user["timer"]["latency"][-1] == [] and user["histogram"]["sizes"][-1] == []
    assert user["timer"]["latency"][0] == 1   # its count, as ever


SAME_AS_ONE_PROCESS = textwrap.dedent("""
    import sys
    from pyformance import MetricsRegistry
    from apptuit_like.testing import CaptureReporter
    sent = []
    for directory in (None, sys.argv[1]):
        registry = MetricsRegistry()
        registry.counter(sys.argv[2].encode().decode("unicode_escape")).inc(2)
        reporter = CaptureReporter(registry, multiprocess_dir=directory,
                                   tags={"service": "s"})
        reporter.report_now()
        sent.append({(p["metric"], p["value"]) for p in reporter.points
                     if not p["metric"].startswith("apptuit_reporter")})
        reporter.stop()
    print(sorted(sent[0]), sorted(sent[1]), sep="\\n")
""")


@pytest.mark.parametrize("key", [r"bad\udcffkey", r"t\u00e4g.\u6771\u4eac"])
def test_a_group_sends_what_one_process_sends_for_any_key_and_locale(tmp_path, key):
    # a lone surrogate (a file name decoded with surrogateescape) raised on writing
    # the state file, and so did any non-ASCII key under an ASCII locale: files are
    # UTF-8 whatever the locale's encoding
    env = dict(os.environ, LC_ALL="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0")
    done = subprocess.run([sys.executable, "-c", SAME_AS_ONE_PROCESS, str(tmp_path), key],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    alone, group = done.stdout.splitlines()
    assert alone == group and "_count', 2)" in alone


def test_a_reporter_never_started_in_the_parent_is_still_fork_safe(vm, tmp_path, uid):
    registry, reporter = make_reporter(vm, tmp_path, uid)
    registry.counter("orders").inc(5)   # the parent's share, never published

    def child():
        registry.counter("orders").inc(1)
        reporter.report_now()
    for _ in range(3):
        wait_ok(in_child(child))
    reporter.report_now()
    assert latest(vm, "orders_count", uid) == {(): 8}   # 5 + 3 x 1, not 3 x 6 + 5


def test_a_child_forked_while_a_lock_is_held_does_not_keep_it(tmp_path):
    # the reporter thread holds send.lock while a worker forks: the child must not
    # keep the inherited lock (found as a 2-4 minute stall of the churning-pool test)
    import threading
    from apptuit_like.pyformance._multiprocess import _Lock
    path = str(tmp_path / "send.lock")
    held, release = threading.Event(), threading.Event()

    def hold():
        with _Lock(path, None):
            held.set()
            release.wait(10)
    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    done_r, done_w = os.pipe()
    with child_process(lambda: os.read(done_r, 1)):   # alive until told
        release.set()
        holder.join(10)
        with _Lock(path, time.monotonic() + 2) as lock:
            assert lock.acquired, "the forked child still holds the lock"
        os.write(done_w, b"x")
