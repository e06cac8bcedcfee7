"""What bucketed distributions cost: per update, against prometheus_client's
``Histogram.observe``, and per report of 1,000 timers in each bucket mode.

Hot path: CPU per call from one thread of the drop-in ``Histogram.add`` (every
value counted in its bucket as it folds), a drop-in timer timing an empty
block, prometheus_client's ``Histogram.observe`` (its default 15 buckets) and
its ``Histogram.time()`` around the same block, taking turns run by run. The
values are log-normal (a median of 50 ms), the same sequence for each library.

Report: CPU of ``report_now()`` for 1,000 tagged timers of 200 values each to a
null HTTP sink, with ``histogram_buckets`` None, "vmrange" and "le".

Prints one JSON object (medians, quartiles and every sample, the package's path);
``--out FILE`` writes it there too, with the machine's load average.

    python -m benchmarks.bucket_cost [--runs 9] [--out benchmarks/results/F.json]
"""
import argparse
import json
import math
import os
import platform
import random
import statistics
import time
from typing import Any, Callable, Dict, List

from benchmarks.null_sink import NullSink
from benchmarks.peers import _timed, cpu_per_call

CALLS = 200000
VALUES = [random.Random(7).lognormvariate(math.log(0.05), 1.0) for _ in range(4096)]


def _cycling(record: Callable[[float], Any]) -> Callable[[], Any]:
    values, state = VALUES, [0]

    def op() -> Any:
        i = state[0] = (state[0] + 1) & 4095
        return record(values[i])
    return op


def operations() -> Dict[str, Callable[[], Any]]:
    import prometheus_client as prom
    from apptuit_like.pyformance import MetricsRegistry
    registry, prom_registry = MetricsRegistry(), prom.CollectorRegistry()
    return {
        "apptuit_like Histogram.add": _cycling(registry.histogram("h").add),
        "prometheus_client Histogram.observe": _cycling(
            prom.Histogram("h", "h", registry=prom_registry).observe),
        "apptuit_like timer block": _timed(registry.timer("t")),
        "prometheus_client Histogram.time() block": _timed(
            prom.Histogram("t", "t", registry=prom_registry))}


def hot_path(runs: int) -> Dict[str, List[float]]:
    ops = operations()
    out: Dict[str, List[float]] = {name: [] for name in ops}
    for op in ops.values():
        cpu_per_call(op, CALLS // 10, 1)   # warm-up
    for _ in range(runs):
        for name, op in ops.items():
            out[name].append(cpu_per_call(op, CALLS, 1) * 1e9)   # ns
    return out


def report_cost(runs: int, timers: int = 1000) -> Dict[str, List[float]]:
    from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry
    from apptuit_like.timeseries import encode_metric
    registry = MetricsRegistry()
    draw = random.Random(8)
    for i in range(timers):
        timer = registry.timer(encode_metric("latency", {"route": "/r%d" % i}))
        for _ in range(200):
            timer._update(draw.lognormvariate(math.log(0.05), 1.0))
    out: Dict[str, List[float]] = {}
    with NullSink() as endpoint:
        reporters = {str(mode): ApptuitReporter(
            registry=registry, api_endpoint=endpoint, tags={"service": "bench"},
            histogram_buckets=mode) for mode in (None, "vmrange", "le")}
        for reporter in reporters.values():
            reporter.report_now()   # warm-up: caches filled, the connection open
        for name in reporters:
            out[name] = []
        for _ in range(runs):
            for name, reporter in reporters.items():
                started = time.process_time()
                reporter.report_now()
                out[name].append((time.process_time() - started) * 1000)   # ms
    return out


def summary(samples: List[float]) -> Dict[str, Any]:
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return {"median": statistics.median(samples), "q1": q1, "q3": q3, "samples": samples}


def main(argv: Any = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--out")
    parser.add_argument("--updates-only", action="store_true",
                        help="no report (for a checkout from before histogram_buckets)")
    args = parser.parse_args(argv)
    import apptuit_like
    result = {"package": apptuit_like.__file__, "python": platform.python_version(),
              "machine": platform.machine(), "cpus": os.cpu_count(),
              "load_average": os.getloadavg(),
              "update_ns": {k: summary(v) for k, v in hot_path(args.runs).items()}}
    if not args.updates_only:
        result["report_1000_timers_ms"] = {k: summary(v)
                                           for k, v in report_cost(args.runs).items()}
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as out:
            out.write(text + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
