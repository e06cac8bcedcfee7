"""The application's cost and the report cycle, side by side with the peers.

Seven libraries, the same workload each, taking turns run by run:
apptuit_like (its drop-in ``MetricsRegistry``), apptuit 2.4.2 (pyformance's),
prometheus_client, the OpenTelemetry SDK (OTLP/HTTP exporter),
wavefront-pyformance (its ``TaggedRegistry`` and direct reporter), datadogpy
(``DogStatsd`` with client-side aggregation) and the statsd package (a datagram per
update, tags in the metric name, as it has none). Reporters send to the same null
sink in another process, over HTTP or UDP.

Hot path: CPU per update, from one thread and from four at once:
- a counter looked up by name and tags on every call, as each library teaches it
  (``registry.counter(encode_metric(name, tags)).inc()``, ``.labels(...).inc()``,
  ``.add(1, attributes)``, ``registry.counter(name, tags=...).inc()``,
  ``increment(name, tags=[...])``, ``incr("name.tag.tag")``);
- a counter bound once (OpenTelemetry and the StatsD clients have no bound
  instruments: ``add(1)``, ``increment(name)``, ``incr(name)``);
- a histogram recording a value; a timer timing an empty block (OpenTelemetry
  has no timer: ``perf_counter`` around the block and ``record``).

Report cycles, the application thread's slowdown during one, and memory
(``benchmarks.peer_cycles``): CPU per series of one report, export or exposition;
the 1k-timer cycle runs again with our ``histogram_buckets="le"``
(prometheus_client's and OpenTelemetry's histograms always send buckets,
apptuit's and wavefront's never); the peak RSS that 100k series held and reported
three times add, and the part the reports add, each library in a fresh process.

    python -m benchmarks.peers [--quick]
"""
import argparse
import json
import statistics
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Tuple

from benchmarks.null_sink import NullSink, udp_address
from benchmarks.peer_cycles import LIBRARIES, cycle, dogstatsd, impact, memory
from benchmarks.timing import fresh, turns

__all__ = ["LIBRARIES", "OPERATIONS", "hot_path", "rows", "main"]

OPERATIONS = ("tagged counter", "bound counter", "histogram record", "timer block")


def _timed(context: Callable[[], Any]) -> Callable[[], None]:
    """An empty block timed by a new ``context()`` on each call."""
    def block() -> None:
        with context():
            pass
    return block


def ours_ops(endpoint: str) -> Dict[str, Callable[[], Any]]:
    from apptuit_like.pyformance import MetricsRegistry
    from apptuit_like.timeseries import encode_metric
    registry = MetricsRegistry()
    hist = registry.histogram("h")
    return {"tagged counter": lambda: registry.counter(encode_metric("orders", {
                "city": "ber", "env": "dev"})).inc(),
            "bound counter": registry.counter("bound").inc,
            "histogram record": lambda: hist.add(0.25),
            "timer block": _timed(registry.timer("t").time)}


def apptuit_ops(endpoint: str) -> Dict[str, Callable[[], Any]]:
    from apptuit import TimeSeriesName
    from pyformance import MetricsRegistry
    registry = MetricsRegistry()
    hist = registry.histogram("h")
    encode = TimeSeriesName.encode_metric
    return {"tagged counter": lambda: registry.counter(encode("orders", {
                "city": "ber", "env": "dev"})).inc(),
            "bound counter": registry.counter("bound").inc,
            "histogram record": lambda: hist.add(0.25),
            "timer block": _timed(registry.timer("t").time)}


def prometheus_ops(endpoint: str) -> Dict[str, Callable[[], Any]]:
    import prometheus_client as prom
    registry = prom.CollectorRegistry()
    tagged = prom.Counter("orders", "orders", ["city", "env"], registry=registry)
    hist = prom.Histogram("h", "h", registry=registry)
    return {"tagged counter": lambda: tagged.labels("ber", "dev").inc(),
            "bound counter": prom.Counter("bound", "b", registry=registry).inc,
            "histogram record": lambda: hist.observe(0.25),
            "timer block": _timed(prom.Histogram("t", "t", registry=registry).time)}


def otel_ops(endpoint: str) -> Dict[str, Callable[[], Any]]:
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


def wavefront_ops(endpoint: str) -> Dict[str, Callable[[], Any]]:
    from wavefront_pyformance.tagged_registry import TaggedRegistry
    registry = TaggedRegistry()
    hist = registry.histogram("h")
    return {"tagged counter": lambda: registry.counter("orders", tags={
                "city": "ber", "env": "dev"}).inc(),
            "bound counter": registry.counter("bound").inc,
            "histogram record": lambda: hist.add(0.25),
            "timer block": _timed(registry.timer("t").time)}


def datadog_ops(endpoint: str) -> Dict[str, Callable[[], Any]]:
    client = dogstatsd(endpoint)   # histograms and timings go out as buffered datagrams
    return {"tagged counter": lambda: client.increment("orders", tags=["city:ber",
                                                                       "env:dev"]),
            "bound counter": lambda: client.increment("bound"),
            "histogram record": lambda: client.histogram("h", 0.25),
            "timer block": _timed(lambda: client.timed("t"))}


def statsd_ops(endpoint: str) -> Dict[str, Callable[[], Any]]:
    from statsd import StatsClient
    client = StatsClient(*udp_address(endpoint))
    city, env = "ber", "dev"
    return {"tagged counter": lambda: client.incr("orders.%s.%s" % (city, env)),
            "bound counter": lambda: client.incr("bound"),
            "histogram record": lambda: client.timing("h", 0.25),
            "timer block": _timed(lambda: client.timer("t"))}


BUILDERS = dict(zip(LIBRARIES, (ours_ops, apptuit_ops, prometheus_ops, otel_ops,
                                wavefront_ops, datadog_ops, statsd_ops)))


def cpu_per_call(op: Callable[[], Any], calls: int, threads: int) -> float:
    """Process CPU seconds per call, ``calls`` spread over ``threads`` threads."""
    share = calls // threads
    start = threading.Barrier(threads + 1)

    def work() -> None:
        start.wait()
        for _ in range(share):
            op()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    fresh()
    for worker in workers:
        worker.start()
    began = time.process_time()
    start.wait()
    for worker in workers:
        worker.join()
    return (time.process_time() - began) / (share * threads)


def hot_path(calls: int, runs: int, threads: int) -> Dict[str, Dict[str, List[float]]]:
    """{operation: {library: [seconds per call, one per run]}}, libraries interleaved."""
    out: Dict[str, Dict[str, List[float]]] = {op: {lib: [] for lib in LIBRARIES}
                                              for op in OPERATIONS}
    with NullSink() as endpoint:
        ops = {library: build(endpoint) for library, build in BUILDERS.items()}
        for op in OPERATIONS:
            for library in LIBRARIES:
                cpu_per_call(ops[library][op], calls // 10, threads)   # warm-up
            for run in range(runs):
                for library in turns(LIBRARIES, run):
                    out[op][library].append(cpu_per_call(ops[library][op], calls, threads))
    return out


def spread(values: List[float]) -> str:
    """Median with the run-to-run range, in microseconds ("n/a": not measured)."""
    if not values:
        return "n/a"
    return "%.2f (%.2f-%.2f)" % (statistics.median(values) * 1e6, min(values) * 1e6,
                                 max(values) * 1e6)


def ratio_cells(samples: Dict[str, List[float]]) -> Tuple[str, float, str]:
    """(best peer, our median ratio to it, the ratio's range over runs), among the
    peers measured."""
    medians = {lib: statistics.median(v) for lib, v in samples.items() if v}
    peer = min((lib for lib in LIBRARIES[1:] if lib in medians), key=medians.__getitem__)
    ratios = [p / o for p, o in zip(samples[peer], samples[LIBRARIES[0]])]
    return peer, medians[peer] / medians[LIBRARIES[0]], "%.2f-%.2f" % (min(ratios),
                                                                      max(ratios))


def _megabytes(values: List[float]) -> str:
    if not values:
        return "n/a"
    return "%.0f (%.0f-%.0f)" % tuple(x / 1e6 for x in (statistics.median(values),
                                                       min(values), max(values)))


def _memory_rows(counters: int, kept: Dict[str, Any]) -> List[List[str]]:
    """Peak RSS added by holding ``counters`` series and reporting them three times,
    and the part of it the reports add, each against the best peer."""
    total, by_reports = memory(counters, 3)
    out = []
    for label, grown in (("peak RSS added by %dk series held and reported three times, MB",
                          total),
                         ("peak RSS added by three %dk-series cycles, MB", by_reports)):
        label %= counters // 1000
        kept[label] = grown
        peer, ratio, span = ratio_cells(grown)
        if ratio >= 1:
            verdict = "%.2fx less than %s (runs %s)" % (ratio, peer, span)
        else:
            verdict = "%.2fx more than %s (runs %s)" % (1 / ratio, peer, "-".join(
                "%.2f" % (1 / float(r)) for r in reversed(span.split("-"))))
        out.append([label] + [_megabytes(grown[lib]) for lib in LIBRARIES] + [verdict])
    return out


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
               + ["%.0f%%" % (100 * slowed[lib]) if lib in slowed else "n/a"
                  for lib in LIBRARIES]
               + ["lowest" if min(slowed, key=slowed.get) == LIBRARIES[0] else ""])
    out += _memory_rows(counters, kept)
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
