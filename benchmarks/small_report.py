"""CPU of one small report (1,000 tagged counters and the meta points) to a null
HTTP sink in another process: what the HTTP path costs a report, the part a
larger registry does not change. Prints one JSON line: the median, quartiles and
samples in ms, and the package's version and path (so runs of two checkouts,
interleaved, can be told apart).

    python -m benchmarks.small_report [--counters 1000] [--runs 41]
"""
import argparse
import json
import statistics
import time

from benchmarks.null_sink import NullSink


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counters", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=41)
    args = parser.parse_args()
    import apptuit_like
    from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry
    from apptuit_like.timeseries import encode_metric
    registry = MetricsRegistry()
    for i in range(args.counters):
        registry.counter(encode_metric("orders", {"shard": str(i)})).inc(i)
    with NullSink() as endpoint:
        reporter = ApptuitReporter(registry=registry, api_endpoint=endpoint,
                                   tags={"service": "bench"})
        reporter.report_now()   # warm-up: caches filled, the connection open
        samples = []
        for _ in range(args.runs):
            started = time.process_time()
            reporter.report_now()
            samples.append((time.process_time() - started) * 1000)
    quartiles = statistics.quantiles(samples, n=4)
    print(json.dumps({"counters": args.counters, "median_ms": statistics.median(samples),
                      "q1_ms": quartiles[0], "q3_ms": quartiles[2], "samples_ms": samples,
                      "package": apptuit_like.__file__}))


if __name__ == "__main__":
    main()
