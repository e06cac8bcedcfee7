"""Where a reporter's memory goes, part by part, at 100k tagged counters.

tracemalloc counts the bytes Python allocates (not RSS: no allocator slack, no
shared libraries), in a fresh process, step by step:

- ``registry``: the 100k keys (encoded names with tags) and drop-in counters;
- ``encode_metric cache``: the keys ``encode_metric`` remembers (a bounded number);
- ``reporter``: building an ``ApptuitReporter`` (client, session, meta registry);
- ``cached renderings``: what the first report leaves behind for the next ones
  (each key's head parts, the views the collector compares cycle to cycle);
- ``cycle peak``: the most a report holds at once on top of that (the chunks of
  points it renders, a batch's compressed body, the registry's keys listed to
  compare with the last cycle's), gone when it returns;
- ``merge view``: in a process group, what the sender keeps of the merged view of
  two processes' states, on top of its own cached renderings.

Prints each part, and keeps the run as
``benchmarks/results/<date-HHMM>-memory-parts.json``, which docs/performance.md's
table is generated from (``python -m benchmarks.figures``).

    python -m benchmarks.memory_parts [--series 100000]
"""
import argparse
import json
import subprocess
import sys
from typing import Any, Dict, List, Optional

CHILD = r"""
import gc, json, sys, tempfile, tracemalloc
tracemalloc.start()
from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry
from apptuit_like.timeseries import encode_metric
series, endpoint, group = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "group"
def now():
    gc.collect()
    return tracemalloc.get_traced_memory()[0]
out = {}
base = now()
registry = MetricsRegistry()
for i in range(series):
    registry.counter(encode_metric("orders_%d" % (i // 1000),
                                   {"city": "c%d" % (i % 50), "shard": str(i % 1000)})).inc(i)
held = now() - base
import apptuit_like.timeseries as timeseries
timeseries._KEYS.clear()   # what encode_metric remembers for its next calls
out["encode_metric cache"] = held - (now() - base)
out["registry"] = held - out["encode_metric cache"]
base = now()
options = {"multiprocess_dir": tempfile.mkdtemp()} if group else {}
reporter = ApptuitReporter(registry=registry, api_endpoint=endpoint, tags={"service": "bench"},
                           error_handler=None, max_series_per_metric=None, **options)
out["reporter"] = now() - base
base = now()
tracemalloc.reset_peak()
reporter.report_now()
out["first report peak"] = tracemalloc.get_traced_memory()[1] - base
out["cached renderings"] = now() - base
base = now()
tracemalloc.reset_peak()
reporter.report_now()
out["cycle peak"] = tracemalloc.get_traced_memory()[1] - base
out["left by a later report"] = now() - base
print(json.dumps(out))
"""


def parts(series: int, endpoint: str, group: bool) -> Dict[str, int]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(series), endpoint,
                           "group" if group else "alone"], capture_output=True, text=True,
                          check=True, timeout=900)
    found: Dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def measure(series: int) -> Dict[str, Any]:
    from benchmarks.null_sink import NullSink   # pylint: disable=import-outside-toplevel
    with NullSink() as endpoint:
        alone = parts(series, endpoint, False)
        group = parts(series, endpoint, True)
    result: Dict[str, Any] = {"series": series, "alone": alone, "group": group}
    result["merge view"] = group["cached renderings"] - alone["cached renderings"]
    return result


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100000)
    args = parser.parse_args(argv)
    from benchmarks import runs   # pylint: disable=import-outside-toplevel
    env = runs.environment()
    result = measure(args.series)
    for name, size in result["alone"].items():
        print("%-24s %7.1f MB  %6.0f bytes/series" % (name, size / 1e6, size / args.series))
    print("%-24s %7.1f MB  %6.0f bytes/series" % ("merge view (group)", result["merge view"] / 1e6,
                                                 result["merge view"] / args.series))
    print("kept as", runs.save("memory-parts", result, env))
    return result


if __name__ == "__main__":
    main()
