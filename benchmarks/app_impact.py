"""Application impact: how fast a thread can ``counter.inc()`` during a report cycle.

One thread increments a counter in a tight loop, once for the length of one
100k-series report cycle (run on the main thread, sending to a null sink) and
once for the same length with no cycle. Two figures per reporter, medians of
several cycles:

- ``slowdown``: the share of the window in which the application thread could
  not run (1 - its CPU time / wall time, during the cycle, relative to the same
  ratio without one). Both are measured at the same moment as the ops, so the
  shared machine's drifting speed cancels out.
- ``during`` and ``without``: the raw ``inc()`` calls per second in the two
  windows, which drift with the machine's speed by 20-30% from second to second.

    python -m benchmarks.app_impact [--series 100000] [--runs 5]
"""
import argparse
import statistics
import threading
import time

from benchmarks.null_sink import NullSink
from benchmarks.report_cycle import build_registry, ours, theirs


def spin_while(work) -> tuple:
    """(inc() calls per second, thread CPU / wall) of a spinning thread while ``work`` runs."""
    from pyformance.meters import Counter
    counter, done, result = Counter(), threading.Event(), {}

    def spin():
        inc, calls, cpu = counter.inc, 0, time.thread_time()
        while not done.is_set():
            for _ in range(1000):
                inc()
            calls += 1000
        result.update(calls=calls, cpu=time.thread_time() - cpu)

    worker = threading.Thread(target=spin)
    worker.start()
    started = time.perf_counter()
    work()
    elapsed = time.perf_counter() - started
    done.set()
    worker.join()
    return result["calls"] / elapsed, result["cpu"] / elapsed


def slowdown(report, runs: int) -> dict:
    report()   # warm-up
    rows = []
    for _ in range(runs):
        started = time.perf_counter()
        during, share_during = spin_while(report)
        length = time.perf_counter() - started
        without, share_without = spin_while(lambda: time.sleep(length))
        rows.append((during, without, 1 - share_during / share_without))
    return {"during": statistics.median(r[0] for r in rows),
            "without": statistics.median(r[1] for r in rows),
            "slowdown": statistics.median(r[2] for r in rows)}


def measure(series: int = 100000, runs: int = 5) -> dict:
    counters = series * 10 // 11
    registry = build_registry(counters, series - counters)
    with NullSink() as endpoint:
        return {"ours": slowdown(ours(registry, endpoint), runs),
                "apptuit": slowdown(theirs(registry, endpoint), runs)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    result = measure(args.series, args.runs)
    for name, row in result.items():
        print("%-8s %4.1f%% slower (inc/s without a cycle %.0f, during %.0f)"
              % (name, 100 * row["slowdown"], row["without"], row["during"]))
    return result


if __name__ == "__main__":
    main()
