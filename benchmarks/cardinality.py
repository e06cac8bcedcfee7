"""The cardinality guard's cost: a report cycle of 100k series over 10 metric names
with the default cap (2,000 per name) against no cap; a normal cycle (100 names of
1,000 series, under the cap) with and without the guard; and the peak memory of a
process offered 1M distinct tag sets of one metric, with and without the cap.

    python -m benchmarks.cardinality [--series 100000] [--runs 5]
"""
import argparse
import functools
import subprocess
import sys
from typing import Any, Dict

from benchmarks.null_sink import NullSink
from benchmarks.timing import cpu_seconds, interleaved

_PEAK = r"""
import sys
from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry
from apptuit_like.timeseries import encode_metric
endpoint, cap = sys.argv[1], None if sys.argv[2] == "none" else int(sys.argv[2])
registry = MetricsRegistry()
reporter = ApptuitReporter(registry=registry, api_endpoint=endpoint, error_handler=None,
                           tags={"service": "bench"}, max_series_per_metric=cap)
for user in range(1000000):
    registry.counter(encode_metric("logins", {"user": str(user)})).inc()
reporter.report_now()
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:")))
"""


def registry_of(series: int, names: int) -> Any:
    from apptuit_like.pyformance import MetricsRegistry
    from apptuit_like.timeseries import encode_metric
    registry = MetricsRegistry()
    for i in range(series):
        registry.counter(encode_metric("orders_%d" % (i % names),
                                       {"shard": str(i // names)})).inc(i)
    return registry


def reporter(registry: Any, endpoint: str, cap: Any) -> Any:
    from apptuit_like.pyformance import ApptuitReporter
    return ApptuitReporter(registry=registry, api_endpoint=endpoint, error_handler=None,
                           tags={"service": "bench"}, max_series_per_metric=cap).report_now


def measure(series: int, runs: int) -> Dict[str, Any]:
    """CPU seconds per cycle of each case, and peak RSS bytes with 1M tag sets."""
    crowded, normal = registry_of(series, 10), registry_of(series, series // 1000)
    with NullSink() as endpoint:
        cases = {"crowded, cap": reporter(crowded, endpoint, 2000),
                 "crowded, no cap": reporter(crowded, endpoint, None),
                 "normal, guard on": reporter(normal, endpoint, 2000),
                 "normal, guard off": reporter(normal, endpoint, None)}
        for case in cases.values():
            case()   # warm-up
        got: Dict[str, Any] = interleaved({name: functools.partial(cpu_seconds, case)
                                           for name, case in cases.items()}, runs)
        for cap in ("2000", "none"):
            done = subprocess.run([sys.executable, "-c", _PEAK, endpoint, cap], check=True,
                                  capture_output=True, text=True, timeout=900)
            got["peak RSS, 1M tag sets, cap " + cap] = int(done.stdout.split()[-1])
    got["series"] = series
    return got


def main(argv: Any = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    got = measure(args.series, args.runs)
    for name, value in got.items():
        if name.startswith("peak"):
            print("%-36s %6.0f MB" % (name, value / 1e6))
        elif name != "series":
            print("%-36s %6.2f us/series offered" % (name, value / got["series"] * 1e6))


if __name__ == "__main__":
    main()
