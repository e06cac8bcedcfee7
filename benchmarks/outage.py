"""The outage buffer's cost: a report cycle while the backend refuses connections,
with the buffer in memory and on disk, and a normal cycle with each (which the
disk buffer must leave unchanged: it writes only when a send fails).

    python -m benchmarks.outage [--series 10000] [--runs 5]
"""
import argparse
import functools
import os
import tempfile
from typing import Any, Dict

from benchmarks import report_cycle
from benchmarks.null_sink import NullSink
from benchmarks.timing import cpu_seconds, interleaved


def reporter(registry: Any, endpoint: str, directory: Any) -> Any:
    from apptuit_like.pyformance import ApptuitReporter
    return ApptuitReporter(registry=registry, api_endpoint=endpoint, buffer_dir=directory,
                           tags={"service": "bench"}, error_handler=None,
                           max_buffered_points=10 ** 7, max_buffer_bytes=2 ** 34,
                           max_series_per_metric=None)


def measure(series: int, runs: int) -> Dict[str, Any]:
    """CPU seconds per cycle: {"outage memory", "outage disk", "up memory", "up disk"},
    and the disk's bytes per buffered point."""
    from apptuit_like.testing import free_port
    counters = series * 10 // 11
    registry = report_cycle.build_registry(counters, series - counters)
    points = report_cycle.points_per_cycle(registry)
    refused = "http://127.0.0.1:%d" % free_port()
    with tempfile.TemporaryDirectory() as down, tempfile.TemporaryDirectory() as up, \
            NullSink() as sink:
        cycles = {"outage memory": reporter(registry, refused, None)._cycle,
                  "outage disk": reporter(registry, refused, down)._cycle,
                  "up memory": reporter(registry, sink, None)._cycle,
                  "up disk": reporter(registry, sink, up)._cycle}
        for cycle in cycles.values():
            cycle()   # warm-up; the outage buffers hold one cycle from here on
        got: Dict[str, Any] = interleaved({name: functools.partial(cpu_seconds, cycle)
                                           for name, cycle in cycles.items()}, runs)
        on_disk = sum(os.path.getsize(os.path.join(down, name)) for name in os.listdir(down))
        got["disk bytes per point"] = on_disk / ((runs + 1) * points)
    got["points"] = points
    return got


def main(argv: Any = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    got = measure(args.series, args.runs)
    for name in ("outage memory", "outage disk", "up memory", "up disk"):
        print("%-14s %6.2f us/point CPU" % (name, got[name] / got["points"] * 1e6))
    print("on disk: %.0f bytes per buffered point" % got["disk bytes per point"])


if __name__ == "__main__":
    main()
