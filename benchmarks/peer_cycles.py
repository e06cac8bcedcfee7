"""The report cycle and its memory, side by side with the peers.

Each library reports the same registry (``_names``: tagged counters, 1,000 tag sets
per metric name, and optionally timers with 20 updates each) to the same null
HTTP sink in another process: apptuit_like (its drop-in ``MetricsRegistry``),
apptuit 2.4.2 (pyformance's), prometheus_client (``generate_latest``: it is
pulled, not pushed), the OpenTelemetry SDK (OTLP/HTTP exporter),
wavefront-pyformance (its ``TaggedRegistry`` and direct reporter) and datadogpy
(``DogStatsd`` aggregating on the client, flushing UDP datagrams to the sink's UDP
side). The statsd package aggregates nothing, so it has no cycle; nor has
datadogpy with timers, whose histograms it does not aggregate.

- ``cycle``: CPU per series of one report, libraries taking turns run by run;
- ``impact``: the share of a 100k-series cycle's wall time an application thread
  could not run (``benchmarks.app_impact``'s measure; not datadogpy's, whose
  flush drains what the next would send);
- ``memory``: in a fresh process per library, the peak RSS that holding the series
  and reporting them three times adds, and the part of it the three reports add.
"""
import functools
import json
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

from benchmarks.null_sink import NullSink, udp_address
from benchmarks.timing import fresh, turns

LIBRARIES = ("apptuit_like", "apptuit 2.4.2", "prometheus_client", "OpenTelemetry SDK",
             "wavefront-pyformance", "datadogpy", "statsd")


def dogstatsd(endpoint: str) -> Any:
    """A ``DogStatsd`` aggregating on the client and packing datagrams, sending to
    ``endpoint``'s UDP side. ``flush_interval=0``: no flush thread, the caller
    flushes (with one, datadog's at-fork hook joins a thread sleeping that long)."""
    from datadog.dogstatsd import DogStatsd
    host, port = udp_address(endpoint)
    return DogStatsd(host=host, port=port, disable_aggregation=False,
                     disable_buffering=False, flush_interval=0, disable_telemetry=True,
                     constant_tags=["service:bench"])


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


def cycle_datadog(series: List[Tuple[str, Dict[str, str]]], timers: int, endpoint: str
                  ) -> Any:
    """None with timers. Its flush drains the aggregator, so the report carries a
    ``prepare`` that counts every series again, outside the timed part."""
    if timers:
        return None
    client = dogstatsd(endpoint)

    def prepare() -> None:   # tags as an application passes them: a new list a call
        for i, (name, tags) in enumerate(series):
            client.increment(name, i, tags=["city:" + tags["city"], "shard:" + tags["shard"]])

    def report() -> None:
        client.flush_aggregated_metrics()
        client.flush()
    report.prepare = prepare  # type: ignore[attr-defined]
    report.close = client.close_socket  # type: ignore[attr-defined]
    prepare()
    return report


CYCLES = dict(zip(LIBRARIES, (cycle_ours, cycle_apptuit, cycle_prometheus, cycle_otel,
                              cycle_wavefront, cycle_datadog)))


def _prepare(report: Any) -> None:
    """Refill what a draining report (datadogpy's) sent last time."""
    getattr(report, "prepare", lambda: None)()


def _close(reports: Dict[str, Any]) -> None:
    """Close the reports that hold something open (OpenTelemetry's provider), before
    the sink goes."""
    for report in reports.values():
        getattr(report, "close", lambda: None)()


def cycle(counters: int, timers: int, runs: int, buckets: Any = None
          ) -> Dict[str, List[float]]:
    """{library: [CPU seconds per series of one cycle, one per run]}, interleaved;
    ``buckets``: our timers' ``histogram_buckets`` mode."""
    series = _names(counters)
    out: Dict[str, List[float]] = {library: [] for library in LIBRARIES}
    makers = dict(CYCLES, **{LIBRARIES[0]: functools.partial(cycle_ours, buckets=buckets)})
    with NullSink() as endpoint:
        made = {library: make(series, timers, endpoint) for library, make in makers.items()}
        reports = {library: report for library, report in made.items() if report is not None}
        for report in reports.values():
            report()   # warm-up: caches filled, connections open
        for run in range(runs):
            for library in turns(list(reports), run):
                report = reports[library]
                _prepare(report)
                fresh()
                began = time.process_time()
                report()
                out[library].append((time.process_time() - began) / (counters + timers))
        _close(reports)
    return out


def impact(counters: int, runs: int) -> Dict[str, float]:
    """{library: share of a cycle's wall time an application thread could not run},
    for the libraries whose every report sends the whole registry."""
    from benchmarks.app_impact import slowdown
    series = _names(counters)
    with NullSink() as endpoint:
        reports = {library: make(series, 0, endpoint) for library, make in CYCLES.items()}
        got = {library: slowdown(report, runs)["slowdown"] for library, report in reports.items()
               if not hasattr(report, "prepare")}
        _close(reports)
    return got


_MEMORY_CHILD = r"""
import gc, json, sys
from benchmarks import peer_cycles
library, counters, endpoint = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))
series = peer_cycles._names(counters)
peer_cycles.CYCLES[library]([], 0, endpoint)   # the imports are not a per-series cost
gc.collect()
before = kib("VmRSS:")
report = peer_cycles.CYCLES[library](series, 0, endpoint)
gc.collect()
held = kib("VmRSS:")
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")   # the peak (VmHWM) starts again from the RSS of now
for turn in range(3):
    if turn:
        peer_cycles._prepare(report)
    report()
peak = kib("VmHWM:")
# at least a page each: ratios stay finite
print(json.dumps([max(peak - before, 4) * 1024, max(peak - held, 4) * 1024]))
getattr(report, "close", lambda: None)()
"""


def memory(counters: int, runs: int) -> Tuple[Dict[str, List[float]], Dict[str, List[float]]]:
    """({library: [bytes the peak RSS grows by, holding the series and reporting them
    three times]}, {library: [bytes of that the three reports add]}), one sample per
    run, each a fresh process per library, libraries taking turns (those with a
    cycle)."""
    total: Dict[str, List[float]] = {library: [] for library in LIBRARIES}
    cycles: Dict[str, List[float]] = {library: [] for library in LIBRARIES}
    with NullSink() as endpoint:
        for run in range(runs):
            for library in turns(list(CYCLES), run):
                done = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, library,
                                       str(counters), endpoint], capture_output=True,
                                      text=True, check=True, timeout=600)
                grown, by_reports = json.loads(done.stdout.strip().splitlines()[-1])
                total[library].append(float(grown))
                cycles[library].append(float(by_reports))
    return total, cycles
