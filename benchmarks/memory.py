"""Memory: peak RSS of a process holding 100k series with a started reporter,
minus the same process without one, for each reporter.

Each measurement is a fresh subprocess (peak RSS from its VmHWM): it builds the
registry (10:1 counters to timers), makes the reporter, and either stops there or
starts it (1 s interval, null sink) and lets it finish three cycles. Median of
several runs.

    python -m benchmarks.memory [--series 100000] [--runs 3]
"""
import argparse
import statistics
import subprocess
import sys

from benchmarks.null_sink import NullSink

CHILD = r"""
import sys, threading
from benchmarks.report_cycle import build_registry
which, series, endpoint = sys.argv[1], int(sys.argv[2]), sys.argv[3]
counters = series * 10 // 11
registry = build_registry(counters, series - counters)
cycles = threading.Semaphore(0)
if which == "ours":
    from apptuit_like.pyformance import ApptuitReporter
    reporter = ApptuitReporter(registry=registry, api_endpoint=endpoint, reporting_interval=1,
                               tags={"service": "bench"}, error_handler=None,
                               max_series_per_metric=None)   # every series, as apptuit
    send = reporter.client.transport.post
    def counted(*args, **kwargs):
        try:
            return send(*args, **kwargs)
        finally:
            cycles.release()
    reporter.client.transport.post = counted
else:
    from apptuit.pyformance import ApptuitReporter
    reporter = ApptuitReporter(registry=registry, token="bench", api_endpoint=endpoint,
                               reporting_interval=1, tags={"service": "bench"})
    send = reporter.client.send
    def counted(points, *args, **kwargs):
        try:
            return send(points, timeout=60)
        finally:
            cycles.release()
    reporter.client.send = counted
if sys.argv[4] == "start":
    reporter.start()
    for _ in range(3 * 6):   # three cycles of at least six requests each
        cycles.acquire()
    reporter.stop()
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:")))
"""


def peak_rss(which: str, series: int, endpoint: str, start: bool) -> int:
    done = subprocess.run([sys.executable, "-c", CHILD, which, str(series), endpoint,
                           "start" if start else "idle"], capture_output=True, text=True,
                          check=True, timeout=600)
    return int(done.stdout.strip().splitlines()[-1])


def measure(series: int = 100000, runs: int = 3) -> dict:
    result = {}
    with NullSink() as endpoint:
        for which in ("ours", "apptuit"):
            extra = [peak_rss(which, series, endpoint, True)
                     - peak_rss(which, series, endpoint, False) for _ in range(runs)]
            result[which] = statistics.median(extra)
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure(args.series, args.runs)
    for name, extra in result.items():
        print("%-8s extra peak RSS with a started reporter: %6.1f MB" % (name, extra / 1e6))
    return result


if __name__ == "__main__":
    main()
