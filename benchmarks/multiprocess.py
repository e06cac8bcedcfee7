"""Multi-process mode: what each worker and the sender pay per cycle.

Four forked workers hold the same 10,000 series (tagged counters and timers
10:1, as in the report-cycle row), as the workers of one service do. Each
worker publishes its state (snapshot + atomic write) every cycle; the sender
reads the four states, merges them and sends the merged series to a null sink.
Both are compared per point with one process reporting the same series.
CPU is process time, medians of several runs, the sender and the single
process taking turns run by run.

    python -m benchmarks.multiprocess [--series 10000] [--workers 4] [--runs 5]
"""
import argparse
import functools
import os
import statistics
import tempfile

from pyformance import MetricsRegistry

from benchmarks.null_sink import NullSink
from benchmarks.report_cycle import build_registry, points_per_cycle
from benchmarks.timing import cpu_seconds, interleaved

HOUR = 3600


def reporter_for(registry: MetricsRegistry, endpoint: str, directory=None):
    from apptuit_like.pyformance import ApptuitReporter
    return ApptuitReporter(registry=registry, api_endpoint=endpoint, reporting_interval=HOUR,
                           tags={"service": "bench"}, multiprocess_dir=directory,
                           max_series_per_metric=None)   # every series, as one process


def worker(series: int, endpoint: str, directory: str, runs: int, out: int, stop: int) -> None:
    """In a forked worker: publish ``runs`` times, report the median CPU, wait."""
    counters = series * 10 // 11
    registry = build_registry(counters, series - counters)
    reporter = reporter_for(registry, endpoint, directory)
    reporter.start()
    group = reporter._group

    def publish():
        group.write(reporter._state(registry, []))
    publish()
    seconds = statistics.median(cpu_seconds(publish) for _ in range(runs))
    os.write(out, ("%.9f\n" % seconds).encode())
    os.read(stop, 1)   # stay a live member until the sender is done


def measure(series: int, workers: int, runs: int) -> dict:
    counters = series * 10 // 11
    single_registry = build_registry(counters, series - counters)
    points = points_per_cycle(single_registry)
    with NullSink() as endpoint, tempfile.TemporaryDirectory() as directory:
        sender = reporter_for(MetricsRegistry(), endpoint, directory)
        sender.start()   # the group's first member: the others join its run
        out_r, out_w = os.pipe()
        stop_r, stop_w = os.pipe()
        pids = []
        for _ in range(workers):
            pid = os.fork()
            if pid == 0:
                try:
                    worker(series, endpoint, directory, runs, out_w, stop_r)
                finally:
                    os._exit(0)
            pids.append(pid)
        with os.fdopen(out_r) as lines:
            publish = [float(lines.readline()) for _ in range(workers)]
        single = reporter_for(single_registry, endpoint)
        for report in (sender.report_now, single.report_now):
            report()   # warm-up: heads cached, connections open
        got = interleaved({"merged": functools.partial(cpu_seconds, sender.report_now),
                           "single": functools.partial(cpu_seconds, single.report_now)}, runs)
        os.write(stop_w, b"x" * workers)
        for pid in pids:
            os.waitpid(pid, 0)
        sender.stop()
    return dict(got, points=points, publish=statistics.median(publish))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    got = measure(args.series, args.workers, args.runs)
    points = got["points"]
    print("multi-process: %d workers x %d series (%d points each), median of %d runs"
          % (args.workers, args.series, points, args.runs))
    for label, key in (("worker publish", "publish"), ("sender merge+send", "merged"),
                       ("one process alone", "single")):
        print("  %-18s %8.1f ms CPU  %6.2f us/point" % (label, got[key] * 1e3,
                                                        got[key] / points * 1e6))
    print("  sender / alone     %8.2fx (target: within 3x)" % (got["merged"] / got["single"]))
    return got


if __name__ == "__main__":
    main()
