"""The reporter through a storm of faults and a backend crash, read back exactly.

Four application threads increment 400 tagged counters while the reporter
(interval 1 s, retries on, the default outage buffer) sends through a fault
proxy that goes through every mode in turn, then VictoriaMetrics is killed with
SIGKILL and started again on the same data. Each phase lasts until the error
handler has seen its fault, and recovery until a send succeeds again, with
bounds; then the stored series must match the exact local counts.
"""
import json
import os
import random
import re
import threading
import time

import pytest
import requests
from pyformance import MetricsRegistry
from pyformance.meters import CallbackGauge

from apptuit_like import RetryPolicy
from apptuit_like.pyformance import ApptuitReporter
from apptuit_like.timeseries import encode_metric
from faults import FaultProxy

pytestmark = pytest.mark.slow   # about 40 s: the default Python's run only
BOUND = 20.0   # seconds any phase may take before the test calls it stuck
FAULTS = [("reset", r"reset|aborted|closed"), ("blackhole", r"timed out"),
          ("slow", r"timed out"), ("close_mid_answer", r"aborted|closed|connection|broken")]


@pytest.fixture
def proxy(own_vm):
    proxy = FaultProxy(own_vm.put_port, delay=2.5)
    yield proxy
    proxy.stop()


class Handler:
    """The error handler: records every call, and lets the test wait for a kind."""

    def __init__(self):
        self.calls = []
        self._changed = threading.Condition()

    def __call__(self, status, successful, failed, errors):
        with self._changed:
            self.calls.append((status, successful, failed, errors))
            self._changed.notify_all()

    def wait_for(self, pattern, since):
        with self._changed:
            assert self._changed.wait_for(lambda: any(
                re.search(pattern, str(call[3]), re.I) for call in self.calls[since:]),
                BOUND), "no failure matching %r; saw %s" % (pattern, self.calls[since:][-3:])


KILLED = r"connection|aborted|refused|closed"


class Phase:
    """What one fault cost: counted from the reporter's stats and the handler."""

    def __init__(self, fault, reporter, handler, cycles):
        self.fault, self.reporter, self.handler, self.cycles = fault, reporter, handler, cycles
        self.calls, self.first_cycle = len(handler.calls), len(cycles) + 1
        self.before = reporter.stats()

    def end(self):
        after = self.reporter.stats()
        calls = self.handler.calls[self.calls:]
        return {"fault": self.fault, "cycles": [self.first_cycle, len(self.cycles)],
                "failed_batches": len(calls),
                "errors": sorted({str(c[3][0].get("error"))[:200] for c in calls})[:2],
                **{key: after[key] - self.before[key]
                   for key in ("failed", "buffered", "dropped")}}


def record(phases, seen, cycles, local, latest, stats):
    """With APPTUIT_LIKE_RELIABILITY_DIR set, leave the fault matrix for RELIABILITY.md."""
    folder = os.environ.get("APPTUIT_LIKE_RELIABILITY_DIR")
    if not folder:
        return
    for phase in phases:
        first, last = phase["cycles"]
        phase["cycles_missing"] = len(set(range(first, last + 1)) - set(seen))
    with open(os.path.join(folder, "chaos.json"), "w") as out:
        json.dump({"phases": phases, "cycles": cycles, "cycles_stored": len(seen),
                   "counters": len(local), "counter_total": sum(local.values()),
                   "stored_total": sum(latest.get(n, 0) for n in local),
                   "counters_differing": sum(latest.get(n) != v for n, v in local.items()),
                   "stats": stats}, out, indent=1)


def wait_for_success(reporter):
    """Until a send succeeds after now (polled: success has no callback)."""
    sent = reporter.stats()["sent"]
    deadline = time.monotonic() + BOUND
    while reporter.stats()["sent"] == sent:
        assert time.monotonic() < deadline, "no successful send within %.0f s" % BOUND
        time.sleep(0.05)


def application(registry, stop):
    counters = [registry.counter(encode_metric("chaos", {"n": str(i)})) for i in range(400)]

    def work(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            rng.choice(counters).inc()
            stop.wait(0.0005)   # an application that does other work between updates
    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    return counters, threads


def test_faults_and_a_backend_crash_lose_nothing_within_the_buffer(own_vm, proxy, uid):
    registry, handler, stop = MetricsRegistry(), Handler(), threading.Event()
    cycles = []
    registry.add("cycle", CallbackGauge(lambda: cycles.append(None) or len(cycles)))
    reporter = ApptuitReporter(registry=registry, api_endpoint=proxy.endpoint,
                               reporting_interval=1.0, retry_count=2, timeout=1.0,
                               retry_policy=RetryPolicy(backoff_factor=0.05, backoff_max=0.2),
                               tags={"test": uid}, error_handler=handler)
    counters, threads = application(registry, stop)
    reporter.start()
    wait_for_success(reporter)
    phases = []
    for mode, pattern in FAULTS + [("backend killed", KILLED)]:
        phase = Phase(mode, reporter, handler, cycles)
        if mode == "backend killed":
            # VictoriaMetrics keeps the last seconds of acknowledged points in memory
            # (up to -inmemoryDataFlushInterval, 5 s) and a SIGKILL loses them; a
            # snapshot persists them first: the test measures the client, not the TSDB.
            # The proxy refuses sends meanwhile: a point acknowledged between the
            # snapshot and the kill would be the TSDB's loss, not the client's.
            proxy.mode = "reset"
            own_vm.persist()
            own_vm.kill()
            since = len(handler.calls)
            proxy.mode = "pass"
            handler.wait_for(pattern, since)
            own_vm.start_again()
        else:
            proxy.mode = mode
            handler.wait_for(pattern, phase.calls)
            proxy.mode = "pass"
        wait_for_success(reporter)
        phases.append(phase.end())
    stop.set()
    for thread in threads:
        thread.join(BOUND)
    assert reporter.is_running   # (d) the thread never died
    reporter.stop()

    stored = own_vm_series(own_vm, uid)
    # (a) every counter's latest sample is its exact local total
    local = {str(i): counter.get_count() for i, counter in enumerate(counters)}
    latest = {n: points[-1][1] for n, points in stored["chaos_count"].items()}
    seen = sorted({int(value) for _, value in stored["cycle_value"][None]})
    record(phases, seen, len(cycles), local, latest, reporter.stats())
    assert latest == local
    # (b) every cycle's sample arrived: the cycle gauge shows 1..N without a gap
    assert seen == list(range(1, len(cycles) + 1)) and len(cycles) >= 8
    # (c) the handler saw every failed batch, each saying what happened: every point
    # that failed was buffered (all faults are retryable); stats()["failed"] leaves
    # out each report's own meta points, as apptuit-py's counters do
    stats = reporter.stats()
    assert sum(call[2] for call in handler.calls) == stats["buffered"] > stats["failed"] > 0
    assert all(call[3] and call[3][0].get("error") for call in handler.calls)


def own_vm_series(vm, uid):
    """{metric: {tag n (or None): [(timestamp_ms, value), ...]}} of this test's series."""
    out = {}
    for (name, tags), points in _series(vm, '{test="%s"}' % uid).items():
        out.setdefault(name, {})[dict(tags).get("n")] = points
    return out


def _series(vm, selector):
    vm.flush()
    answer = requests.get(vm.query_url + "/api/v1/export", timeout=30,
                          params={"match[]": selector, "end": int(time.time()) + 60})
    result = {}
    for line in answer.text.splitlines():
        row = json.loads(line)
        labels = dict(row["metric"])
        name = labels.pop("__name__")
        key = (name, tuple(sorted(labels.items())))
        points = result.setdefault(key, [])
        points += zip(row["timestamps"], row["values"])   # ms, as stored
    return {key: sorted(points) for key, points in result.items()}


def test_stop_during_a_blackhole_returns_within_its_timeout_plus_one_second(own_vm, proxy,
                                                                           uid):
    registry = MetricsRegistry()
    registry.counter("stuck").inc()
    reporter = ApptuitReporter(registry=registry, api_endpoint=proxy.endpoint,
                               reporting_interval=1.0, retry_count=2, timeout=1.0,
                               tags={"test": uid}, error_handler=None)
    reporter.start()
    wait_for_success(reporter)
    proxy.mode = "blackhole"
    started = time.monotonic()
    reporter.stop(timeout=2.0)
    assert time.monotonic() - started <= 3.0
