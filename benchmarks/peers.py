"""The application's cost and the report cycle, side by side with the peers.

Five libraries, the same workload each, taking turns run by run:
apptuit_like (its drop-in ``MetricsRegistry``), apptuit 2.4.2 (pyformance's),
prometheus_client, the OpenTelemetry SDK (OTLP/HTTP exporter) and
wavefront-pyformance (its ``TaggedRegistry`` and direct reporter). Reporters
send to the same null HTTP sink in another process.

Hot path: CPU per update, from one thread and from four at once:
- a counter looked up by name and tags on every call, as each library teaches it
  (``registry.counter(encode_metric(name, tags)).inc()``, ``.labels(...).inc()``,
  ``.add(1, attributes)``, ``registry.counter(name, tags=...).inc()``);
- a counter bound once (OpenTelemetry has no bound instruments: ``add(1)``);
- a histogram recording a value; a timer timing an empty block (OpenTelemetry
  has no timer: ``perf_counter`` around the block and ``record``).

Cycle: CPU per series of one report, export or exposition
(``generate_latest`` for prometheus_client, which is pulled, not pushed), and
how much a cycle of 100k series slows an application thread
(``benchmarks.app_impact``'s measure); the 1k-timer cycle runs again with our
``histogram_buckets="le"`` (prometheus_client's and OpenTelemetry's histograms
always send buckets, apptuit's and wavefront's never). Memory: the peak RSS three cycles of 100k
series add to a process that holds them, each library in a fresh process.

    python -m benchmarks.peers [--quick]
"""
import argparse
import functools
import json
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Tuple

from benchmarks.null_sink import NullSink
from benchmarks.timing import turns

LIBRARIES = ("apptuit_like", "apptuit 2.4.2", "prometheus_client", "OpenTelemetry SDK",
             "wavefront-pyformance")
TAGS = {"city": "ber", "env": "dev"}
OPERATIONS = ("tagged counter", "bound counter", "histogram record", "timer block")


def _timed(timer: Any) -> Callable[[], None]:
    def block() -> None:
        with timer.time():
            pass
    return block


def ours_ops() -> Dict[str, Callable[[], Any]]:
    from apptuit_like.pyformance import MetricsRegistry
    from apptuit_like.timeseries import encode_metric
    registry = MetricsRegistry()
    hist = registry.histogram("h")
    return {"tagged counter": lambda: registry.counter(encode_metric("orders", {
                "city": "ber", "env": "dev"})).inc(),
            "bound counter": registry.counter("bound").inc,
            "histogram record": lambda: hist.add(0.25),
            "timer block": _timed(registry.timer("t"))}


def apptuit_ops() -> Dict[str, Callable[[], Any]]:
    from apptuit import TimeSeriesName
    from pyformance import MetricsRegistry
    registry = MetricsRegistry()
    hist = registry.histogram("h")
    encode = TimeSeriesName.encode_metric
    return {"tagged counter": lambda: registry.counter(encode("orders", {
                "city": "ber", "env": "dev"})).inc(),
            "bound counter": registry.counter("bound").inc,
            "histogram record": lambda: hist.add(0.25),
            "timer block": _timed(registry.timer("t"))}


def prometheus_ops() -> Dict[str, Callable[[], Any]]:
    import prometheus_client as prom
    registry = prom.CollectorRegistry()
    tagged = prom.Counter("orders", "orders", ["city", "env"], registry=registry)
    hist = prom.Histogram("h", "h", registry=registry)
    return {"tagged counter": lambda: tagged.labels("ber", "dev").inc(),
            "bound counter": prom.Counter("bound", "b", registry=registry).inc,
            "histogram record": lambda: hist.observe(0.25),
            "timer block": _timed(prom.Histogram("t", "t", registry=registry))}


def otel_meter(endpoint: str) -> Tuple[Any, Any, Any]:
    """(meter, reader, provider): a fresh provider whose reader exports over
    OTLP/HTTP to ``endpoint`` on demand; shut it down before the endpoint goes."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint + "/v1/metrics"),
        export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    return provider.get_meter("bench"), reader, provider


def otel_ops() -> Dict[str, Callable[[], Any]]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()],
                          shutdown_on_exit=False).get_meter("bench")
    tagged, bound = meter.create_counter("orders"), meter.create_counter("bound")
    hist, timer = meter.create_histogram("h"), meter.create_histogram("t")
    clock = time.perf_counter

    def block() -> None:
        started = clock()
        timer.record(clock() - started)
    return {"tagged counter": lambda: tagged.add(1, {"city": "ber", "env": "dev"}),
            "bound counter": lambda: bound.add(1),
            "histogram record": lambda: hist.record(0.25),
            "timer block": block}


def wavefront_ops() -> Dict[str, Callable[[], Any]]:
    from wavefront_pyformance.tagged_registry import TaggedRegistry
    registry = TaggedRegistry()
    hist = registry.histogram("h")
    return {"tagged counter": lambda: registry.counter("orders", tags={
                "city": "ber", "env": "dev"}).inc(),
            "bound counter": registry.counter("bound").inc,
            "histogram record": lambda: hist.add(0.25),
            "timer block": _timed(registry.timer("t"))}


BUILDERS = dict(zip(LIBRARIES, (ours_ops, apptuit_ops, prometheus_ops, otel_ops,
                                wavefront_ops)))


def cpu_per_call(op: Callable[[], Any], calls: int, threads: int) -> float:
    """Process CPU seconds per call, ``calls`` spread over ``threads`` threads."""
    share = calls // threads
    start = threading.Barrier(threads + 1)

    def work() -> None:
        start.wait()
        for _ in range(share):
            op()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    began = time.process_time()
    start.wait()
    for worker in workers:
        worker.join()
    return (time.process_time() - began) / (share * threads)


def hot_path(calls: int, runs: int, threads: int) -> Dict[str, Dict[str, List[float]]]:
    """{operation: {library: [seconds per call, one per run]}}, libraries interleaved."""
    ops = {library: build() for library, build in BUILDERS.items()}
    out: Dict[str, Dict[str, List[float]]] = {op: {lib: [] for lib in LIBRARIES}
                                              for op in OPERATIONS}
    for op in OPERATIONS:
        for library in LIBRARIES:
            cpu_per_call(ops[library][op], calls // 10, threads)   # warm-up
        for run in range(runs):
            for library in turns(LIBRARIES, run):
                out[op][library].append(cpu_per_call(ops[library][op], calls, threads))
    return out


# --- report cycles -------------------------------------------------------------

def _names(counters: int) -> List[Tuple[str, Dict[str, str]]]:
    # 1,000 tag sets per metric name: under every library's per-metric limits
    return [("orders_%d" % (i // 1000), {"city": "c%d" % (i % 50), "shard": str(i % 1000)})
            for i in range(counters)]


def cycle_ours(series: List[Tuple[str, Dict[str, str]]], timers: int, endpoint: str,
               buckets: Any = None) -> Any:
    from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry
    from apptuit_like.timeseries import encode_metric
    registry = MetricsRegistry()
    _fill_pyformance(registry, encode_metric, series, timers)
    return ApptuitReporter(registry=registry, api_endpoint=endpoint,
                           tags={"service": "bench"}, histogram_buckets=buckets).report_now


def cycle_apptuit(series: List[Tuple[str, Dict[str, str]]], timers: int, endpoint: str) -> Any:
    from apptuit import TimeSeriesName
    from apptuit.pyformance import ApptuitReporter
    from pyformance import MetricsRegistry
    registry = MetricsRegistry()
    _fill_pyformance(registry, TimeSeriesName.encode_metric, series, timers)
    reporter = ApptuitReporter(registry=registry, token="bench", api_endpoint=endpoint,
                               tags={"service": "bench"})
    send = reporter.client.send   # as released it passes retry_count as the timeout
    reporter.client.send = lambda points, *args, **kwargs: send(points, timeout=60)
    return reporter.report_now


def _fill_pyformance(registry: Any, encode: Callable[..., str],
                     series: List[Tuple[str, Dict[str, str]]], timers: int) -> None:
    for i, (name, tags) in enumerate(series):
        registry.counter(encode(name, tags)).inc(i)
    for i in range(timers):
        timer = registry.timer(encode("latency", {"route": "/r%d" % i}))
        for j in range(20):
            timer._update(0.001 * (j + 1))


def cycle_prometheus(series: List[Tuple[str, Dict[str, str]]], timers: int, endpoint: str
                     ) -> Any:
    import prometheus_client as prom
    registry = prom.CollectorRegistry()
    counters: Dict[str, Any] = {}
    for i, (name, tags) in enumerate(series):
        if name not in counters:
            counters[name] = prom.Counter(name, name, ["city", "shard"], registry=registry)
        counters[name].labels(**tags).inc(i)
    if timers:
        latency = prom.Histogram("latency", "latency", ["route"], registry=registry)
        for i in range(timers):
            child = latency.labels("/r%d" % i)
            for j in range(20):
                child.observe(0.001 * (j + 1))
    return lambda: prom.generate_latest(registry)


def cycle_otel(series: List[Tuple[str, Dict[str, str]]], timers: int, endpoint: str) -> Any:
    meter, reader, provider = otel_meter(endpoint)
    counters: Dict[str, Any] = {}
    for i, (name, tags) in enumerate(series):
        if name not in counters:
            counters[name] = meter.create_counter(name)
        counters[name].add(i, tags)
    latency = meter.create_histogram("latency")
    for i in range(timers):
        for j in range(20):
            latency.record(0.001 * (j + 1), {"route": "/r%d" % i})
    def report() -> None:
        reader.force_flush()
    report.close = provider.shutdown  # type: ignore[attr-defined]  # before the sink goes
    return report


def cycle_wavefront(series: List[Tuple[str, Dict[str, str]]], timers: int, endpoint: str
                    ) -> Any:
    from wavefront_pyformance.tagged_registry import TaggedRegistry
    from wavefront_pyformance.wavefront_reporter import WavefrontDirectReporter
    from wavefront_sdk.client import WavefrontClient
    registry = TaggedRegistry()
    for i, (name, tags) in enumerate(series):
        registry.counter(name, tags=tags).inc(i)
    for i in range(timers):
        timer = registry.timer("latency", tags={"route": "/r%d" % i})
        for j in range(20):
            timer._update(0.001 * (j + 1))
    reporter = WavefrontDirectReporter(endpoint, "bench", registry=registry,
                                       tags={"service": "bench"},
                                       enable_internal_metrics=False)
    # its default client queues 50,000 points: a 100k-series report overflows it
    reporter.wavefront_client = WavefrontClient(
        endpoint, "bench", max_queue_size=2_000_000, batch_size=10_000,
        flush_interval_seconds=3600, enable_internal_metrics=False)
    return reporter.report_now


CYCLES = dict(zip(LIBRARIES, (cycle_ours, cycle_apptuit, cycle_prometheus, cycle_otel,
                              cycle_wavefront)))


def cycle(counters: int, timers: int, runs: int, buckets: Any = None
          ) -> Dict[str, List[float]]:
    """{library: [CPU seconds per series of one cycle, one per run]}, interleaved;
    ``buckets``: our timers' ``histogram_buckets`` mode."""
    series = _names(counters)
    out: Dict[str, List[float]] = {library: [] for library in LIBRARIES}
    makers = dict(CYCLES, **{LIBRARIES[0]: functools.partial(cycle_ours, buckets=buckets)})
    with NullSink() as endpoint:
        reports = {library: make(series, timers, endpoint) for library, make in makers.items()}
        for report in reports.values():
            report()   # warm-up: caches filled, connections open
        for run in range(runs):
            for library in turns(LIBRARIES, run):
                report = reports[library]
                began = time.process_time()
                report()
                out[library].append((time.process_time() - began) / (counters + timers))
        for report in reports.values():
            getattr(report, "close", lambda: None)()
    return out


def impact(counters: int, runs: int) -> Dict[str, float]:
    """{library: share of a cycle's wall time an application thread could not run}."""
    from benchmarks.app_impact import slowdown
    series = _names(counters)
    with NullSink() as endpoint:
        reports = {library: make(series, 0, endpoint) for library, make in CYCLES.items()}
        got = {library: slowdown(report, runs)["slowdown"] for library, report in reports.items()}
        for report in reports.values():
            getattr(report, "close", lambda: None)()
    return got


_MEMORY_CHILD = r"""
import gc, sys
from benchmarks import peers
library, counters, endpoint = sys.argv[1], int(sys.argv[2]), sys.argv[3]
report = peers.CYCLES[library](peers._names(counters), 0, endpoint)
gc.collect()
def kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")   # the peak (VmHWM) starts again from the RSS of now
before = kib("VmRSS:")
for _ in range(3):
    report()
print(max(kib("VmHWM:") - before, 4) * 1024)   # at least a page: ratios stay finite
getattr(report, "close", lambda: None)()
"""


def memory(counters: int, runs: int) -> Dict[str, List[float]]:
    """{library: [bytes a process's peak RSS grows by in three cycles, one per run]},
    each run a fresh process per library, libraries interleaved."""
    out: Dict[str, List[float]] = {library: [] for library in LIBRARIES}
    with NullSink() as endpoint:
        for run in range(runs):
            for library in turns(LIBRARIES, run):
                done = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, library,
                                       str(counters), endpoint], capture_output=True,
                                      text=True, check=True, timeout=600)
                out[library].append(float(done.stdout.split()[-1]))
    return out


def spread(values: List[float]) -> str:
    """Median with the run-to-run range, in microseconds."""
    return "%.2f (%.2f-%.2f)" % (statistics.median(values) * 1e6, min(values) * 1e6,
                                 max(values) * 1e6)


def ratio_cells(samples: Dict[str, List[float]]) -> Tuple[str, float, str]:
    """(best peer, our median ratio to it, the ratio's range over runs)."""
    medians = {lib: statistics.median(v) for lib, v in samples.items()}
    peer = min((lib for lib in LIBRARIES[1:]), key=medians.get)
    ratios = [p / o for p, o in zip(samples[peer], samples[LIBRARIES[0]])]
    return peer, medians[peer] / medians[LIBRARIES[0]], "%.2f-%.2f" % (min(ratios),
                                                                      max(ratios))


def rows(quick: bool = False, runs: int = 7, samples: Any = None) -> List[List[str]]:
    """Table rows: what, one cell per library, our ratio to the best peer; every
    row's samples by library go into ``samples`` (a dict) by the row's label."""
    calls = 20_000 if quick else 200_000
    out = []
    kept: Dict[str, Any] = {} if samples is None else samples
    for threads in (1, 4):
        got = hot_path(calls, runs, threads)
        for op in OPERATIONS:
            peer, ratio, span = ratio_cells(got[op])
            label = "%s, %d thread%s, CPU us/update" % (op, threads, "s" * (threads > 1))
            kept[label] = got[op]
            out.append([label] + [spread(got[op][lib]) for lib in LIBRARIES]
                       + ["%.2fx vs %s (runs %s)" % (ratio, peer, span)])
    sizes = [(1000, 0, None), (10000, 0, None)] if quick else [
        (1000, 0, None), (10000, 0, None), (100000, 0, None), (10000, 1000, None),
        (10000, 1000, "le")]
    for counters, timers, buckets in sizes:
        # cycles of up to 10k series take well under a second for every library:
        # more runs there steady the medians that the fixed cost is read from
        got_cycle = cycle(counters, timers, runs + 2 if counters + timers <= 10_000
                          else min(runs, 5), buckets)
        peer, ratio, span = ratio_cells(got_cycle)
        what = "%dk counters" % (counters // 1000) + (" + %dk timers" % (timers // 1000)
                                                       if timers else "")
        if buckets:
            what += " with %r buckets" % buckets
        kept["report cycle, %s, CPU us/series" % what] = got_cycle
        out.append(["report cycle, %s, CPU us/series" % what]
                   + [spread(got_cycle[lib]) for lib in LIBRARIES]
                   + ["%.1fx vs %s (runs %s)" % (ratio, peer, span)])
    counters = 10000 if quick else 100000
    slowed = impact(counters, min(runs, 5))
    kept["application thread slowed during a %dk-series cycle" % (counters // 1000)] = slowed
    out.append(["application thread slowed during a %dk-series cycle" % (counters // 1000)]
               + ["%.0f%%" % (100 * slowed[lib]) for lib in LIBRARIES]
               + ["lowest" if min(slowed, key=slowed.get) == LIBRARIES[0] else ""])
    grown = memory(counters, 3)
    kept["peak RSS added by three %dk-series cycles, MB" % (counters // 1000)] = grown
    peer, ratio, span = ratio_cells(grown)
    out.append(["peak RSS added by three %dk-series cycles, MB" % (counters // 1000)]
               + ["%.0f (%.0f-%.0f)" % tuple(x / 1e6 for x in (statistics.median(v), min(v),
                                                                max(v)))
                  for v in (grown[lib] for lib in LIBRARIES)]
               + ["%.2fx less than %s (runs %s)" % (ratio, peer, span)])
    return out


def main(argv: Any = None) -> List[List[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true",
                        help="the table to stderr, then its rows as one JSON line to stdout")
    args = parser.parse_args(argv)
    samples: Dict[str, Any] = {}
    table = rows(args.quick, 1 if args.quick else 7, samples)
    out = sys.stderr if args.json else sys.stdout
    print("| what | " + " | ".join(LIBRARIES) + " | ours vs the best peer |", file=out)
    for row in table:
        print("| " + " | ".join(row) + " |", file=out, flush=True)
    if args.json:
        print(json.dumps({"rows": table, "samples": samples}))
    return table


if __name__ == "__main__":
    main()
