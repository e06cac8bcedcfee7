"""``python -m benchmarks``: every row side by side, one table, also in RESULTS.md.

Run it through ``bash benchmarks/run.sh``, which installs what it needs
(apptuit 2.4.2, pandas, victoria-metrics) first. ``--quick`` shrinks every row
for a smoke test; the committed RESULTS.md comes from a full run.
"""
import argparse
import datetime
import functools
import json
import os
import platform
import subprocess
import sys
import time

from benchmarks import (app_impact, cardinality, cli_send, memory, middleware, multiprocess,
                        outage, peers, query_df, report_cycle, send_throughput, wires)
from benchmarks.null_sink import NullSink
from benchmarks.timing import cpu_seconds, interleaved

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "RESULTS.md")             # committed: --update writes it
LOCAL_RESULTS = os.path.join(HERE, "RESULTS.local.md")   # untracked: every other run
HEADERS = ["row", "apptuit_like", "apptuit 2.4.2", "floor", "ratio", "target", "result"]


def cycle_rows(sizes, runs: int) -> list:
    rows = []
    for series in sizes:
        counters = series * 10 // 11
        registry = report_cycle.build_registry(counters, series - counters)
        points = report_cycle.points_per_cycle(registry)
        with NullSink() as endpoint:
            reports = {"ours": report_cycle.ours(registry, endpoint),
                       "theirs": report_cycle.theirs(registry, endpoint),
                       "floor": registry.dump_metrics}
            for report in reports.values():
                report()   # warm-up: caches filled, connections open
            got = interleaved({name: functools.partial(cpu_seconds, report)
                               for name, report in reports.items()}, runs)
        ours, theirs, floor = got["ours"], got["theirs"], got["floor"]
        ratio = theirs / ours
        target = (">= 10x", ratio >= 10) if series == sizes[-1] else None
        rows.append(["report cycle, %dk series (%d points), CPU us/point"
                     % (series // 1000, points), "%.2f" % (ours / points * 1e6),
                     "%.2f" % (theirs / points * 1e6), "%.2f" % (floor / points * 1e6),
                     "%.1fx cheaper" % ratio, target])
    return rows


def wire_rows(sizes, runs: int) -> list:
    rows = []
    for series in sizes:
        got = wires.measure(series, runs)
        points, base = got["points"], got["opentsdb"]["cpu"]
        theirs = got["apptuit 2.4.2"]["cpu"]
        for wire in wires.WIRES[1:]:
            ratio = got[wire]["cpu"] / base
            rows.append(["report cycle over %s, %dk series, CPU us/point (bytes/point: "
                         "this wire / opentsdb)" % (wire, series // 1000),
                         "%.2f (%.1f / %.1f bytes)" % (
                             got[wire]["cpu"] / points * 1e6, got[wire]["bytes"] / points,
                             got["opentsdb"]["bytes"] / points),
                         "%.2f" % (theirs / points * 1e6), "%.2f (opentsdb wire)" % (
                             base / points * 1e6),
                         "%.2fx the opentsdb wire" % ratio, ("<= 1.5x", ratio <= 1.5)])
    return rows


def outage_rows(series: int, runs: int) -> list:
    got = outage.measure(series, runs)
    points = got["points"]
    cost = {name: got[name] / points * 1e6 for name in ("outage memory", "outage disk",
                                                         "up memory", "up disk")}
    normal = got["up disk"] / got["up memory"]
    return [["cycle during an outage, %dk series, buffer in memory / on disk, CPU us/point "
             "(bytes on disk per point)" % (series // 1000),
             "%.2f / %.2f (%.0f bytes)" % (cost["outage memory"], cost["outage disk"],
                                           got["disk bytes per point"]),
             "no disk buffer", "", "disk %.1fx memory" % (got["outage disk"]
                                                         / got["outage memory"]), None],
            ["normal cycle with the disk buffer on / off, %dk series, CPU us/point"
             % (series // 1000), "%.2f / %.2f" % (cost["up disk"], cost["up memory"]), "", "",
             "%.2fx" % normal, ("unchanged (within 10%)", 0.90 <= normal <= 1.10)]]


def guard_rows(series: int, runs: int) -> list:
    got = cardinality.measure(series, runs)
    per = {name: value / series * 1e6 for name, value in got.items()
           if not name.startswith("peak") and name != "series"}
    normal = got["normal, guard on"] / got["normal, guard off"]
    return [["report cycle, %dk series over 10 metric names: cap 2,000 / no cap, CPU us per "
             "series offered" % (series // 1000),
             "%.2f / %.2f" % (per["crowded, cap"], per["crowded, no cap"]), "", "",
             "%.2fx" % (got["crowded, cap"] / got["crowded, no cap"]), None],
            ["normal cycle (1,000 series per name), guard on / off, CPU us/series",
             "%.2f / %.2f" % (per["normal, guard on"], per["normal, guard off"]), "", "",
             "%.2fx" % normal, ("unchanged (within 10%)", 0.90 <= normal <= 1.10)],
            ["peak RSS, 1M tag sets of one metric offered, cap 2,000 / no cap, MB",
             "%.0f / %.0f" % (got["peak RSS, 1M tag sets, cap 2000"] / 1e6,
                              got["peak RSS, 1M tag sets, cap none"] / 1e6), "", "", "",
             None]]


def send_rows(points: int, runs: int) -> list:
    got = send_throughput.measure(points, runs)
    ratio = got["ours"] / got["apptuit"]
    return [["send_timeseries, %d points into a null sink, points/s" % points,
             "%.0f" % got["ours"], "%.0f" % got["apptuit"], "", "%.1fx faster" % ratio,
             (">= 5x", ratio >= 5)],
            ["send_timeseries into VictoriaMetrics, points/s (read back)",
             "%.0f (%d of %d)" % (got["ours_vm"], got["vm_count"], points), "", "", "",
             ("all read back", got["vm_count"] == points)]]


def cli_rows(lines: int, runs: int) -> list:
    got = cli_send.measure(lines, runs)
    return [["apptuit-like send, %d telnet lines, points/s: null sink / VictoriaMetrics"
             % lines, "%.0f / %.0f (read back %d)" % (lines / got["null_sink_s"],
                                                      lines / got["vm_s"], got["vm_count"]),
             "no CLI", "", "", ("all read back", got["vm_count"] == lines)]]


def impact_rows(series: int, runs: int) -> list:
    got = app_impact.measure(series, runs)
    ours = got["ours"]["slowdown"]

    def cell(row: dict) -> str:
        return "%.1f%% (%.2fM/s of %.2fM/s)" % (100 * row["slowdown"], row["during"] / 1e6,
                                               row["without"] / 1e6)
    return [["counter.inc() slowdown during a %dk-series cycle (raw inc/s during of without)"
             % (series // 1000), cell(got["ours"]), cell(got["apptuit"]), "", "",
             ("< 10%", ours < 0.10)]]


def memory_rows(series: int, runs: int) -> list:
    got = memory.measure(series, runs)
    return [["extra peak RSS, %dk series with a started reporter, MB" % (series // 1000),
             "%.1f" % (got["ours"] / 1e6), "%.1f" % (got["apptuit"] / 1e6), "", "",
             ("< 50 MB", got["ours"] < 50e6)]]


def middleware_rows(requests: int, runs: int) -> list:
    rows = []
    for kind, got in middleware.measure(requests, runs).items():
        ours, theirs = (got[name] - got["bare"] for name in ("apptuit_like",
                                                             "prometheus_client"))
        rows.append(["%s middleware, CPU us added per request (apptuit 2.4.2 column: "
                     "prometheus_client doing the same job)" % kind.upper(),
                     "%.2f" % (ours * 1e6), "%.2f" % (theirs * 1e6),
                     "%.2f (bare app)" % (got["bare"] * 1e6), "%.1fx cheaper" % (theirs / ours),
                     ("< 10 us", ours < 10e-6)])
    return rows


def query_rows(series: int, points: int, runs: int) -> list:
    body = query_df.answer(series, points)
    ours = query_df.measure(query_df.ours(body), runs)
    theirs = query_df.measure(query_df.theirs(body), runs)
    return [["to_df, %d x %d points, CPU s" % (series, points), "%.3f" % ours["to_df"],
             "%.3f" % theirs["to_df"], "", "%.1fx faster" % (theirs["to_df"] / ours["to_df"]),
             ("< 1 s", ours["to_df"] < 1.0)],
            ["query answer parse, %d x %d points, CPU s" % (series, points),
             "%.3f" % ours["parse"], "%.3f" % theirs["parse"], "",
             "%.1fx faster" % (theirs["parse"] / ours["parse"]), None]]


def multiprocess_rows(series: int, workers: int, runs: int) -> list:
    got = multiprocess.measure(series, workers, runs)
    points = got["points"]
    ratio = got["merged"] / got["single"]
    return [["multi-process, %d workers x %dk series: worker publish / sender merge+send, "
             "CPU us/point (floor: one process alone)" % (workers, series // 1000),
             "%.2f / %.2f" % (got["publish"] / points * 1e6, got["merged"] / points * 1e6),
             "no multi-process mode", "%.2f" % (got["single"] / points * 1e6),
             "sender %.1fx one process" % ratio, ("within 3x", ratio <= 3)]]


def peer_rows(quick: bool) -> list:
    """The peers' table, measured in a fresh process: in this one, what the rows
    before it leave behind raised some libraries' 1k-series cycle by up to 25%."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.peers", "--json"]
                          + ["--quick"] * quick, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.splitlines()[-1])


def peers_markdown(rows: list) -> str:
    head = ["what"] + list(peers.LIBRARIES) + ["apptuit_like vs the best peer"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def results_path(update: bool) -> str:
    """Where a run writes its table: the committed file only when asked to."""
    return RESULTS if update else LOCAL_RESULTS


def markdown(rows: list) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in rows:
        target = row[5]
        cells = row[:5] + ([target[0], "met" if target[1] else "**missed**"] if target
                           else ["", ""])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info
                          if line.startswith("model name")), "")
    except OSError:
        pass
    import apptuit
    import pandas
    import urllib3
    return ("%s, %d cores (%s); Python %s; apptuit_like %s, apptuit %s, pandas %s, urllib3 %s; "
            "%s UTC" % (platform.platform(), os.cpu_count(), model or "unknown CPU",
                        platform.python_version(), __import__("apptuit_like").__version__,
                        apptuit.__version__, pandas.__version__, urllib3.__version__,
                        datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")))


NOTES = """Every row is measured in the same run, side by side; figures are medians of
several runs (CPU time where it says CPU, wall-clock otherwise), the libraries
taking turns run by run, on a shared, noisy machine: read the ratios rather than
the absolute numbers, and expect them to move by 10-20% between runs. The floor is
pyformance's own `registry.dump_metrics()` on the same registry: reading the
metrics without rendering or sending anything.

The slowdown is the share of a report cycle's wall time in which a thread calling
`counter.inc()` in a loop could not run, relative to the same window without a
cycle: it is measured from that thread's own CPU time at the same moment as its
calls, so the machine's drifting speed cancels out; the raw calls per second in
the two windows are shown beside it and drift by 20-30% from run to run.

apptuit 2.4.2's reporter passes `retry_count` positionally as its HTTP timeout, so
every send fails under urllib3 2; its `client.send` is wrapped to pass
`timeout=60` so that it can be measured at all. Registries hold tagged counters
and timers 10:1 (timers with 20 updates each).

The wire rows report the same registry over remote write and line protocol; their
floor column is the OpenTSDB wire's cost in the same run, and bytes are request
bodies as sent (snappy for remote write, gzip for the other two).

The outage rows report the same registry while the backend refuses connections: each
cycle sends the buffered points first, meets the refusal and keeps the new points
(in memory, or appended to the SQLite file on disk).

In the multi-process row four forked workers hold the same series, as the
workers of one service do; each publishes its state every cycle, and the sender
merges the four states and sends the result. Its floor is one process reporting
the same series alone, the two taking turns run by run.

The middleware rows drive a hello-world WSGI and ASGI app in process, bare and
behind each middleware; the prometheus_client column is that library doing the
same job (`benchmarks/middleware.py`: a counter and a histogram labelled by method,
route and status, and an in-progress gauge), since it ships no middleware itself.

The peers table (`python -m benchmarks.peers`, run in a process of its own so that
what the rows above leave behind does not tilt it) gives medians in microseconds
with the range over the runs in brackets; the last column is our median ratio to
the best of the four peers on that row, with the range of the run-by-run ratios.
Hot-path rows are process CPU per update over 200,000 updates, from one thread or
four at once; apptuit_like uses its drop-in `apptuit_like.pyformance.MetricsRegistry`.
Peers as each teaches it: prometheus_client `labels("ber", "dev").inc()`,
`Histogram.observe`, `Histogram.time()`; the OpenTelemetry SDK (in-memory reader
for the hot path, OTLP/HTTP for cycles) `add(1, attributes)` and `record`, with
`perf_counter` around the block for the timer, which it lacks; wavefront-pyformance's
`TaggedRegistry.counter(name, tags=...)` and pyformance's classes. Cycle registries
hold 1,000 tag sets per metric name; prometheus_client's cycle is `generate_latest`.

Regenerate with `bash benchmarks/run.sh` (or `python -m benchmarks` in a prepared
environment); each row also has its own script in `benchmarks/`.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run")
    parser.add_argument("--no-write", action="store_true", help="write no results file")
    parser.add_argument("--update", action="store_true",
                        help="write the committed benchmarks/RESULTS.md (default: the "
                             "untracked benchmarks/RESULTS.local.md)")
    args = parser.parse_args(argv)
    quick = args.quick
    runs = 1 if quick else 5
    started = time.monotonic()
    steps = [lambda: cycle_rows([1000, 5000] if quick else [1000, 10000, 100000], runs),
             lambda: wire_rows([5000] if quick else [10000, 100000], runs),
             lambda: outage_rows(2000 if quick else 10000, runs),
             lambda: guard_rows(20000 if quick else 100000, runs),
             lambda: send_rows(50000 if quick else 1000000, runs),
             lambda: cli_rows(20000 if quick else 1000000, min(runs, 3)),
             lambda: impact_rows(5000 if quick else 100000, runs),
             lambda: memory_rows(5000 if quick else 100000, min(runs, 3)),
             lambda: middleware_rows(2000 if quick else 20000, runs),
             lambda: query_rows(100 if quick else 1000, 144 if quick else 1440, runs),
             lambda: multiprocess_rows(1000 if quick else 10000, 4, runs)]
    rows = []
    for step in steps:
        for row in step():
            rows.append(row)
            print("  " + " | ".join(cell if isinstance(cell, str) else
                                    ("%s %s" % (cell[0], "met" if cell[1] else "MISSED"))
                                    for cell in row if cell is not None), flush=True)
    table = markdown(rows)
    print("peers (hot path, cycles, application slowdown)...", flush=True)
    table += "\n\n## Side by side with the peers\n\n" + peers_markdown(peer_rows(quick))
    about = machine()
    print("\n" + table + "\n\n" + about)
    print("(%.0f s)" % (time.monotonic() - started))
    if not args.no_write:
        target = results_path(args.update)
        with open(target, "w") as out:
            out.write("# Benchmark results\n\n%s\n\nMachine: %s\n\n%s" % (table, about, NOTES))
        print("written to %s" % target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
