"""`apptuit-like send` throughput: 1 million OpenTSDB telnet lines from a file.

The command runs as a subprocess (as a user would run it) against a null HTTP
sink and against a real local VictoriaMetrics, where the points are then read
back and counted. Wall-clock seconds, median of several runs.

    python -m benchmarks.cli_send [--lines 1000000] [--runs 3]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import requests

from benchmarks.null_sink import NullSink


def write_lines(path: str, lines: int, metric: str, now: int) -> None:
    series = 1000
    with open(path, "w") as out:
        for i in range(lines):
            out.write("put %s %d %d host=web-%d route=/r%d\n"
                      % (metric, now - 7200 + i // series, i, i % series % 50, i % series))


def send(path: str, endpoint: str) -> float:
    """Seconds the command took, from its own summary line."""
    done = subprocess.run([sys.executable, "-m", "apptuit_like", "send", "--endpoint",
                           endpoint, path], capture_output=True, text=True, check=True)
    return float(re.search(r"in ([\d.]+) s", done.stdout).group(1))


def stored_points(query_url: str, metric: str, expected: int = 0, patience: float = 10.0
                  ) -> int:
    """Points of ``metric`` that a query finds; asked again for up to ``patience``
    seconds while fewer than ``expected`` show (one run of three once read back
    800,000 of 1,000,000 acknowledged points right after the send: a lag in what
    VictoriaMetrics answers, or a loss, which waiting tells apart)."""
    deadline = time.monotonic() + patience
    while True:
        requests.get(query_url + "/internal/force_flush", timeout=30)
        answer = requests.get(query_url + "/api/v1/query", params={
            "query": "sum(count_over_time(%s[3h]))" % metric}, timeout=60).json()
        count = int(float(answer["data"]["result"][0]["value"][1]))
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.5)


def measure(lines: int = 1000000, runs: int = 3) -> dict:
    from apptuit_like.testing import LocalVictoriaMetrics
    metric = "bench_send_%d" % time.time()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "points.txt")
        write_lines(path, lines, metric, int(time.time()))
        with NullSink() as endpoint:
            null = statistics.median(send(path, endpoint) for _ in range(runs))
        with LocalVictoriaMetrics() as vm:
            into_vm = send(path, vm.put_endpoint)
            count = stored_points(vm.query_url, metric, lines)
    return {"lines": lines, "null_sink_s": null, "vm_s": into_vm, "vm_count": count}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure(args.lines, args.runs)
    print("apptuit-like send: %d telnet lines (1,000 series)" % args.lines)
    print("  into a null sink       %6.2f s  %9.0f points/s (median of %d)"
          % (result["null_sink_s"], args.lines / result["null_sink_s"], args.runs))
    print("  into VictoriaMetrics   %6.2f s  %9.0f points/s, read back %d of %d points"
          % (result["vm_s"], args.lines / result["vm_s"], result["vm_count"], args.lines))
    return result


if __name__ == "__main__":
    main()
