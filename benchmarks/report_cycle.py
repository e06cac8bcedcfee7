"""CPU per point of one report cycle: apptuit_like against apptuit 2.4.2.

Registry: 50,000 tagged counters plus 5,000 timers with 20 updates each (about
130,000 points), sent to a null HTTP sink in another process. CPU is process
time (all threads), median of several cycles after one warm-up cycle.

apptuit 2.4.2's reporter passes ``retry_count`` positionally as the HTTP
timeout, which fails every send under urllib3 2; its ``client.send`` is wrapped
to pass ``timeout=60`` so that it can be measured at all.

    python -m benchmarks.report_cycle [--counters 50000] [--timers 5000] [--runs 5]
"""
import argparse
import statistics
import time

from pyformance import MetricsRegistry

from benchmarks.null_sink import NullSink


def build_registry(counters: int, timers: int) -> MetricsRegistry:
    from apptuit_like.timeseries import encode_metric
    registry = MetricsRegistry()
    for i in range(counters):
        key = encode_metric("orders", {"city": "c%d" % (i % 500), "shard": str(i)})
        registry.counter(key).inc(i)
    for i in range(timers):
        timer = registry.timer(encode_metric("latency", {"route": "/r%d" % i}))
        for j in range(20):
            timer._update(0.001 * (j + 1))
    return registry


def ours(registry: MetricsRegistry, endpoint: str):
    from apptuit_like.pyformance import ApptuitReporter
    # every series, as apptuit 2.4.2 sends them: no cardinality guard
    reporter = ApptuitReporter(registry=registry, api_endpoint=endpoint,
                               tags={"service": "bench"}, max_series_per_metric=None)
    return reporter.report_now


def theirs(registry: MetricsRegistry, endpoint: str):
    from apptuit.pyformance import ApptuitReporter
    reporter = ApptuitReporter(registry=registry, token="bench", api_endpoint=endpoint,
                               tags={"service": "bench"})
    send = reporter.client.send
    reporter.client.send = lambda points, *args, **kwargs: send(points, timeout=60)
    return reporter.report_now


def measure(report, runs: int) -> float:
    report()   # warm-up: caches filled, connections open
    samples = []
    for _ in range(runs):
        started = time.process_time()
        report()
        samples.append(time.process_time() - started)
    return statistics.median(samples)


def points_per_cycle(registry: MetricsRegistry) -> int:
    return sum(len(fields) for fields in registry.dump_metrics().values())


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counters", type=int, default=50000)
    parser.add_argument("--timers", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    registry = build_registry(args.counters, args.timers)
    points = points_per_cycle(registry)
    with NullSink() as endpoint:
        results = {"apptuit_like": measure(ours(registry, endpoint), args.runs),
                   "apptuit 2.4.2": measure(theirs(registry, endpoint), args.runs)}
    print("report cycle: %d counters + %d timers = %d points, median of %d cycles"
          % (args.counters, args.timers, points, args.runs))
    print("(apptuit 2.4.2's client.send wrapped to pass timeout=60: as released it passes"
          " retry_count as the timeout and every send fails under urllib3 2)")
    for name, seconds in results.items():
        print("  %-14s %8.1f ms CPU  %6.2f us/point" % (name, seconds * 1e3,
                                                        seconds / points * 1e6))
    ratio = results["apptuit 2.4.2"] / results["apptuit_like"]
    print("  ratio          %8.1fx cheaper (target: at least 10x)" % ratio)
    return {"points": points, "ratio": ratio, **results}


if __name__ == "__main__":
    main()
