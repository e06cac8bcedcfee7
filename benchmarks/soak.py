"""Soak: a steady phase that would show a leak of one object per cycle, then a
long run with growing series, watched for leaks.

The steady phase reports a fixed registry of 1,000 counters to a null sink many
times: first past the point where the reporter's own send timer has filled its
sample (1,028 values, one per send), then 200 more, all traced by ``tracemalloc``;
the memory blocks the 200 leave alive, per cycle, must be below one half.

A started reporter (interval 5 s, process metrics on) sends to a local
VictoriaMetrics while the registry holds 10,000 tagged counters and gains 50
new ones every second, each incremented as it goes. Every 30 s the process's
RSS, open file descriptors and threads are sampled with the reporter's own
counts. At the end the stored series are counted back and a verdict printed:
file descriptors and threads must stay flat, every point sent must have been
accepted, every series must be stored, and RSS may grow only with the
registry (its growth per added series is printed).

    python -m benchmarks.soak [--minutes 10] [--json FILE]
"""
import argparse
import gc
import json
import threading
import time
import tracemalloc
from typing import Any, Callable, Dict, List, Optional

import psutil
import requests
from pyformance import MetricsRegistry

STEADY_SERIES, STEADY_WARMUP, STEADY_CYCLES = 1000, 1100, 200
SAMPLE_EVERY = 30.0
NEW_PER_SECOND = 50
BASE_SERIES = 10000


def steady(cycles: int = STEADY_CYCLES, warmup: int = STEADY_WARMUP,
           after_cycle: Optional[Callable[[], None]] = None) -> Dict[str, Any]:
    """Blocks of memory left alive per report cycle of a registry that does not
    change (its counters do), after ``warmup`` cycles; ``after_cycle`` runs after
    each (a test injects a leak with it)."""
    from apptuit_like.pyformance import ApptuitReporter
    from apptuit_like.timeseries import encode_metric

    from benchmarks.null_sink import NullSink
    registry = MetricsRegistry()
    counters = [registry.counter(encode_metric("steady", {"n": str(i)}))
                for i in range(STEADY_SERIES)]

    def cycle() -> None:
        for counter in counters[::7]:
            counter.inc()
        reporter.report_now()
        if after_cycle is not None:
            after_cycle()
    with NullSink() as endpoint:
        reporter = ApptuitReporter(registry=registry, api_endpoint=endpoint,
                                   tags={"run": "steady"}, error_handler=None)
        # traced from the start: an object made before tracing and replaced later
        # (a counter's new int, a sample's new float) would count as growth
        tracemalloc.start()
        try:
            for _ in range(warmup):
                cycle()
            gc.collect()
            before = len(tracemalloc.take_snapshot().traces)
            for _ in range(cycles):
                cycle()
            gc.collect()
            after = len(tracemalloc.take_snapshot().traces)
        finally:
            tracemalloc.stop()
    return {"series": STEADY_SERIES, "warmup": warmup, "cycles": cycles,
            "blocks_per_cycle": (after - before) / cycles}


def steady_verdict(result: Dict[str, Any]) -> str:
    ok = result["blocks_per_cycle"] < 0.5
    return "%s steady %d series, %d cycles after %d: %.2f memory blocks left per cycle" % (
        "ok  " if ok else "FAIL", result["series"], result["cycles"], result["warmup"],
        result["blocks_per_cycle"])


def run(minutes: float) -> Dict[str, Any]:
    from apptuit_like.pyformance import ApptuitReporter
    from apptuit_like.testing import LocalVictoriaMetrics
    from apptuit_like.timeseries import encode_metric

    process = psutil.Process()
    registry = MetricsRegistry()
    for i in range(BASE_SERIES):
        registry.counter(encode_metric("soak.base", {"n": str(i)})).inc()
    # the read-back lists every series: beyond VictoriaMetrics' default of 30,000
    with LocalVictoriaMetrics(extra_args=["-search.maxSeries=1000000"]) as vm:
        reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                                   reporting_interval=5, collect_process_metrics=True,
                                   tags={"run": "soak"}, error_handler=None,
                                   max_series_per_metric=None)   # the soak grows one metric
        reporter.start()
        samples: List[Dict[str, Any]] = []
        stop, added = threading.Event(), [0]

        def grow() -> None:   # 50 new series a second, at a fixed rate
            started = time.monotonic()
            while not stop.wait(max(0.0, started + (added[0] + 1) / NEW_PER_SECOND
                                    - time.monotonic())):
                registry.counter(encode_metric("soak.new", {"n": str(added[0])})).inc()
                added[0] += 1
        grower = threading.Thread(target=grow, daemon=True)
        grower.start()
        started = time.monotonic()
        end = started + minutes * 60
        while True:
            stats = reporter.stats()
            samples.append({"seconds": round(time.monotonic() - started),
                            "rss_mb": round(process.memory_info().rss / 1e6, 1),
                            "fds": process.num_fds(), "threads": process.num_threads(),
                            "series": BASE_SERIES + added[0], "sent": stats["sent"],
                            "failed": stats["failed"], "dropped": stats["dropped"]})
            print("  %(seconds)5d s  RSS %(rss_mb)6.1f MB  fds %(fds)3d  threads "
                  "%(threads)2d  series %(series)6d  sent %(sent)8d  failed %(failed)d"
                  % samples[-1], flush=True)
            if time.monotonic() >= end:
                break
            stop.wait(min(SAMPLE_EVERY, end - time.monotonic()))
        stop.set()
        grower.join()
        reporter.stop()
        vm.flush()
        answer = requests.get(vm.query_url + "/api/v1/series", timeout=60, params={
            "match[]": '{__name__=~"soak_base_count|soak_new_count", run="soak"}',
            "start": int(time.time()) - 3600}).json()
        if answer.get("status") != "success":
            raise RuntimeError("counting the stored series failed: %s" % answer)
        stored = len(answer["data"])
    final = reporter.stats()
    return {"minutes": minutes, "samples": samples, "stored_series": stored,
            "expected_series": BASE_SERIES + added[0], "sent": final["sent"],
            "failed": final["failed"], "dropped": final["dropped"]}


def verdict(result: Dict[str, Any]) -> List[str]:
    """(ok, line) findings: flat fds and threads, nothing lost, RSS per series."""
    samples = result["samples"]
    first, last = samples[1] if len(samples) > 2 else samples[0], samples[-1]
    per_series = ((last["rss_mb"] - first["rss_mb"]) * 1e6
                  / max(1, last["series"] - first["series"]))
    checks = [
        (last["fds"] <= first["fds"] + 2, "open fds %d -> %d" % (first["fds"], last["fds"])),
        (last["threads"] <= first["threads"] + 1,
         "threads %d -> %d" % (first["threads"], last["threads"])),
        (result["failed"] == 0 and result["dropped"] == 0,
         "%d points sent, %d failed, %d dropped" % (result["sent"], result["failed"],
                                                     result["dropped"])),
        (result["stored_series"] == result["expected_series"],
         "%d of %d series stored" % (result["stored_series"], result["expected_series"])),
        (per_series < 3000 or len(samples) < 4,
         "RSS %.1f -> %.1f MB: %.0f bytes per added series (a registry counter and its "
         "cached head cost about 1-2 KB)%s" % (
             first["rss_mb"], last["rss_mb"], per_series,
             "; too short a run to judge" if len(samples) < 4 else ""))]
    return ["%s %s" % ("ok  " if ok else "FAIL", line) for ok, line in checks]


def main(argv=None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--json", help="also write the result as JSON to this file")
    args = parser.parse_args(argv)
    print("soak: %d series + %d new a second, %.0f min, sampled every %.0f s"
          % (BASE_SERIES, NEW_PER_SECOND, args.minutes, SAMPLE_EVERY))
    steadied = steady()
    result = run(args.minutes)
    result["steady"] = steadied
    result["verdict"] = [steady_verdict(steadied)] + verdict(result)
    print("\n".join(result["verdict"]))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(result, out, indent=1)
    return result


if __name__ == "__main__":
    main()
