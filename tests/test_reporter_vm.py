"""The reporter against a real VictoriaMetrics."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from pyformance import MetricsRegistry
from pyformance.meters import CallbackGauge

from apptuit_like.pyformance import ApptuitReporter
from apptuit_like.timeseries import encode_metric


def wait_until(check, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


def last_values(vm, selector):
    return {labels: points[-1][1] for (name, labels), points in vm.series(selector).items()}


class OrderService:
    """The apptuit README's example service, instrumented the same way."""

    def __init__(self, registry):
        self.registry = registry
        self.requests = registry.meter("order_requests_rate")
        self.timer = registry.timer("order_processing_time")
        self.sizes = registry.histogram("order_size")
        self.pending = []
        registry.add("order_queue_depth", CallbackGauge(lambda: len(self.pending)))
        self.counters = {}

    def handle(self, city, size):
        self.requests.mark()
        with self.timer.time():
            key = encode_metric("order_count", {"city-code": city})
            if key not in self.counters:
                self.counters[key] = self.registry.counter(key)
            self.counters[key].inc()
            self.sizes.add(size)
            self.pending.append(size)


def test_order_service_arrives_with_names_tags_and_values(vm, uid):
    registry = MetricsRegistry()
    service = OrderService(registry)
    for i in range(30):
        service.handle(["blr", "del", "bom"][i % 3], size=i)
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               prefix=uid + ".", tags={"service": "order-service"})
    reporter.report_now()
    host = reporter.tags["host"]
    stored = last_values(vm, '{__name__=~"%s_.*"}' % uid)
    base = (("host", host), ("service", "order-service"))
    for city in ("blr", "del", "bom"):
        key = tuple(sorted(base + (("city_code", city),)))
        assert vm.series('{__name__="%s_order_count_count"}' % uid)[
            (uid + "_order_count_count", key)][-1][1] == 10
    series = vm.series('{__name__=~"%s_order_(requests_rate|size|queue_depth|processing).*"}'
                       % uid)
    values = {name: points[-1][1] for (name, labels), points in series.items()
              if labels == base}
    assert values[uid + "_order_requests_rate_count"] == 30
    assert values[uid + "_order_size_count"] == 30
    assert values[uid + "_order_size_max"] == 29 and values[uid + "_order_size_min"] == 0
    assert values[uid + "_order_size_avg"] == 14.5
    assert values[uid + "_order_queue_depth_value"] == 30
    assert values[uid + "_order_processing_time_count"] == 30
    assert 0 < values[uid + "_order_processing_time_max"] < 1
    assert len(stored) >= 3


def test_stop_is_prompt_and_flushes_the_final_report(vm, uid):
    registry = MetricsRegistry()
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               reporting_interval=3600, tags={"t": uid})
    assert reporter.start() and not reporter.start()
    registry.counter(uid).inc(42)
    started = time.monotonic()
    reporter.stop()
    assert time.monotonic() - started < 2.0
    assert not reporter.is_running
    assert list(last_values(vm, '{__name__="%s_count"}' % uid).values()) == [42]


def test_eight_threads_of_increments_arrive_exactly(vm, uid):
    registry = MetricsRegistry()
    counter = registry.counter(uid)
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               reporting_interval=0.05, tags={"t": "threads"})
    reporter.start()
    go = threading.Event()

    def work():
        go.wait()
        for _ in range(20000):
            counter.inc()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join()
    reporter.stop()
    points = vm.series('{__name__="%s_count"}' % uid)
    (series,) = points.values()
    assert series[-1][1] == 160000
    assert [v for _, v in series] == sorted(v for _, v in series), "counts only grow"


def test_restart_after_stop(vm, uid):
    registry = MetricsRegistry()
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               reporting_interval=3600, tags={"t": uid})
    reporter.start()
    registry.counter(uid).inc()
    reporter.stop()
    assert reporter.start()
    registry.counter(uid).inc()
    reporter.stop()
    (series,) = vm.series('{__name__="%s_count"}' % uid).values()
    assert [v for _, v in series] == [1, 2]


def test_nan_gauges_and_raising_callbacks_cost_nothing_else(vm, uid):
    registry = MetricsRegistry()
    registry.gauge(uid + ".never_set")
    registry.add(uid + ".broken", CallbackGauge(lambda: 1 / 0))
    registry.add(uid + ".junk", CallbackGauge(lambda: "twelve"))
    registry.add(uid + ".inf", CallbackGauge(lambda: float("-inf")))
    registry.counter(uid + ".good").inc(5)
    registry.add(uid + ".fine", CallbackGauge(lambda: 7))
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               tags={"t": uid})
    reporter.report_now()
    assert {name for name, _ in vm.series('{__name__=~"%s.*"}' % uid)} == {
        uid + "_good_count", uid + "_fine_value"}
    assert reporter._meta_metrics_registry.counter(
        "apptuit.reporter.points.invalid").get_count() == 4


def test_meta_and_process_metrics_arrive(vm, uid):
    registry = MetricsRegistry()
    registry.counter("x").inc()
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               prefix=uid + ".", collect_process_metrics=True)
    reporter.report_now()
    reporter.report_now()   # meta metrics describe the sends before them
    names = {name for name, _ in vm.series('{__name__=~"%s_.*"}' % uid)}
    assert {uid + "_apptuit_reporter_send_" + s for s in
            ("total_count", "successful_count", "failed_count", "time_count",
             "time_avg")} <= names
    assert {uid + "_apptuit_reporter_points_invalid_count"} <= names
    expected = {"python_cpu_time_used_seconds_count", "python_memory_usage_bytes_count",
                "python_page_faults_count", "python_process_swaps_count",
                "python_block_operations_count", "python_ipc_messages_count",
                "python_system_signals_count", "python_context_switches_count",
                "python_thread_value", "python_gc_collection_count",
                "python_gc_threshold_count", "python_process_resident_memory_bytes",
                "python_process_virtual_memory_bytes", "python_process_open_fds",
                "python_process_cpu_percent"}
    assert {uid + "_" + name for name in expected} <= names
    cpu = vm.series('{__name__="%s_python_cpu_time_used_seconds_count", type="user"}' % uid)
    (labels, points), = cpu.items()
    assert ("worker_id", str(os.getpid())) in labels[1]
    assert 0 < points[0][1] <= points[-1][1] <= time.process_time() + 1


def test_forked_child_keeps_reporting_with_its_own_pid(vm, uid):
    registry = MetricsRegistry()
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               prefix=uid + ".", reporting_interval=0.2,
                               collect_process_metrics=True)
    reporter.start()
    try:
        pid = os.fork()
        if pid == 0:   # the child: count, and let the restarted reporter do the rest
            registry.counter(encode_metric("child", {"role": "worker"})).inc(7)
            time.sleep(60)
            os._exit(0)
        try:
            selector = '{__name__="%s_python_thread_value", worker_id="%d"}' % (uid, pid)
            wait_until(lambda: vm.series(selector), "the child's process metrics")
            wait_until(lambda: vm.series('{__name__="%s_child_count"}' % uid),
                       "the child's counter")
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    finally:
        reporter.stop()
    assert vm.series('{__name__="%s_python_thread_value", worker_id="%d"}'
                     % (uid, os.getpid()))


def test_interpreter_exit_flushes_a_started_reporter(vm, uid):
    script = textwrap.dedent("""
        from pyformance import MetricsRegistry
        from apptuit_like.pyformance import ApptuitReporter
        registry = MetricsRegistry()
        ApptuitReporter(registry=registry, api_endpoint=%r, reporting_interval=3600,
                        tags={"t": "exit"}).start()
        registry.counter(%r).inc(3)
    """ % (vm.put_endpoint, uid))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert list(last_values(vm, '{__name__="%s_count"}' % uid).values()) == [3]


def test_a_metric_that_cannot_be_sent_is_warned_about_once_then_counted(vm, caplog):
    """A reporter with no tags at all: each metric is warned about once, however
    often the registry's views are rebuilt; later reports only count its points."""
    registry = MetricsRegistry()
    registry.counter("orders").inc()
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               disable_host_tag=True, tags={})
    with caplog.at_level("WARNING", logger="apptuit_like"):
        for i in range(4):
            registry.counter("orders_%d" % i).inc()   # a new key: the views are rebuilt
            reporter._cycle()
    about_orders = [r for r in caplog.records if "'orders'" in r.getMessage()]
    assert len(about_orders) == 1
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == len(set(messages))
    assert reporter.stats()["invalid"] >= 4
