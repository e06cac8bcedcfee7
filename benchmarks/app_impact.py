"""Application impact: how fast a thread can ``counter.inc()`` during a report cycle.

One thread increments a counter in a tight loop. Its rate is measured over the
length of one 100k-series report cycle (run on another thread, sending to a null
sink) and over the same length with no cycle running; the slowdown is
1 - during / without. Median of several cycles, for each reporter.

    python -m benchmarks.app_impact [--series 100000] [--runs 3]
"""
import argparse
import statistics
import threading
import time

from benchmarks.null_sink import NullSink
from benchmarks.report_cycle import build_registry, ours, theirs


def inc_rate(seconds: float, work=None) -> float:
    """counter.inc() calls per second on a thread, while ``work`` runs (or for ``seconds``)."""
    from pyformance.meters import Counter
    counter, done, count = Counter(), threading.Event(), [0]

    def spin():
        inc, calls = counter.inc, 0
        while not done.is_set():
            for _ in range(1000):
                inc()
            calls += 1000
        count[0] = calls

    worker = threading.Thread(target=spin)
    worker.start()
    started = time.perf_counter()
    if work is None:
        done.wait(seconds)
    else:
        work()
    elapsed = time.perf_counter() - started
    done.set()
    worker.join()
    return count[0] / elapsed


def slowdown(report, runs: int) -> dict:
    report()   # warm-up
    during, without = [], []
    for _ in range(runs):
        started = time.perf_counter()
        during.append(inc_rate(0, report))
        without.append(inc_rate(time.perf_counter() - started))
    d, w = statistics.median(during), statistics.median(without)
    return {"during": d, "without": w, "slowdown": 1 - d / w}


def measure(series: int = 100000, runs: int = 3) -> dict:
    counters = series * 10 // 11
    registry = build_registry(counters, series - counters)
    with NullSink() as endpoint:
        return {"ours": slowdown(ours(registry, endpoint), runs),
                "apptuit": slowdown(theirs(registry, endpoint), runs)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure(args.series, args.runs)
    for name, row in result.items():
        print("%-8s inc/s without a cycle %10.0f, during %10.0f: %4.1f%% slower"
              % (name, row["without"], row["during"], 100 * row["slowdown"]))
    return result


if __name__ == "__main__":
    main()
