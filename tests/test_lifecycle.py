"""The reporter's lifecycle under concurrency: no deadlock, no hang, no lost data.

Threads meet at barriers so the calls really overlap; every wait is bounded,
and a hang fails the test rather than the suite.
"""
import os
import threading
import time

from pyformance import MetricsRegistry
from pyformance.meters import CallbackGauge

from apptuit_like.pyformance import ApptuitReporter
from apptuit_like.timeseries import encode_metric

BOUND = 60   # seconds any join or wait may take before the test calls it a hang


def reporter_for(vm, uid, registry, **options):
    return ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                           tags={"test": uid}, error_handler=None, **options)


def latest_total(vm, uid, metric):
    series = vm.series('%s{test="%s"}' % (metric, uid))
    return sum(points[-1][1] for points in series.values())


def run_threads(count, work):
    start = threading.Barrier(count)
    errors = []

    def body(i):
        try:
            start.wait(BOUND)
            work(i)
        except BaseException as err:   # collected: the test shows what went wrong
            errors.append(err)
    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BOUND)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert errors == []


def test_report_now_from_many_threads_while_the_loop_runs(vm, uid):
    registry = MetricsRegistry()
    reporter = reporter_for(vm, uid, registry, reporting_interval=0.2)
    reporter.start()

    def work(i):
        counter = registry.counter(encode_metric("calls", {"thread": str(i)}))
        for _ in range(25):
            counter.inc()
            reporter.report_now()
    run_threads(6, work)
    reporter.stop()
    assert reporter.stats()["failed"] == 0
    assert latest_total(vm, uid, "calls_count") == 6 * 25


def test_start_and_stop_raced_from_many_threads(vm, uid):
    registry = MetricsRegistry()
    counter = registry.counter("raced")
    reporter = reporter_for(vm, uid, registry, reporting_interval=0.1)

    def work(i):
        for _ in range(20):
            counter.inc()
            (reporter.start if i % 2 else reporter.stop)()
    run_threads(8, work)
    reporter.start()
    assert reporter.is_running
    reporter.stop()
    assert not reporter.is_running
    assert latest_total(vm, uid, "raced_count") == 8 * 20


def test_twenty_forks_in_a_row_each_child_reporting(vm, uid, tmp_path):
    registry = MetricsRegistry()
    reporter = reporter_for(vm, uid, registry, reporting_interval=3600,
                            multiprocess_dir=str(tmp_path))
    reporter.start()
    for _ in range(20):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                registry.counter("forked").inc()
                reporter.stop()   # the child's final report
                code = 0
            finally:
                os._exit(code)
        deadline = time.monotonic() + BOUND
        while True:   # a bounded wait: a hung child fails the test
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                assert os.waitstatus_to_exitcode(status) == 0
                break
            assert time.monotonic() < deadline, "child %d hung" % pid
            time.sleep(0.01)
    reporter.stop()
    assert latest_total(vm, uid, "forked_count") == 20


def test_restarts_within_one_second_never_reuse_a_timestamp(vm, uid):
    registry = MetricsRegistry()
    counter = registry.counter("restarted")
    reporter = reporter_for(vm, uid, registry, reporting_interval=3600)
    for _ in range(3):
        counter.inc()
        reporter.start()
        reporter.stop()   # a final report each time, all within about a second
        assert reporter._last_stamp <= time.time() * 1000   # never ahead of the clock
    (points,) = vm.series('restarted_count{test="%s"}' % uid, millis=True).values()
    stamps = [stamp for stamp, _ in points]
    assert len(stamps) == 3 and len(set(stamps)) == 3
    assert [value for _, value in points] == [1, 2, 3]


def test_stop_sends_a_final_point_a_query_at_now_returns(vm, uid):
    registry = MetricsRegistry()
    sent = threading.Event()
    registry.add("cycle", CallbackGauge(lambda: sent.set() or 1))
    reporter = reporter_for(vm, uid, registry, reporting_interval=0.2)
    reporter.start()
    assert sent.wait(BOUND)   # a cycle ran: whole seconds put the final one 1 s ahead
    registry.counter("final").inc(7)
    reporter.stop()
    selector = 'final_count{test="%s"}' % uid
    assert vm.ahead_of_clock(selector) <= 0.005
    # VictoriaMetrics answers "now" from samples about a second old
    # (see tests/test_multiprocess_servers.py): poll for that long
    deadline = time.monotonic() + 1.5
    while list(vm.at_now(selector).values()) != [7]:
        assert time.monotonic() < deadline, vm.at_now(selector)
        time.sleep(0.05)
