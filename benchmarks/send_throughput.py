"""``send_timeseries`` throughput: 1 million points, ours against apptuit 2.4.2.

Both clients send the same 1,000 series × 1,000 points into a null HTTP sink in
another process (wall-clock points per second, median of several runs, taking
turns); then ours sends them into a real local VictoriaMetrics, where they are
counted.

    python -m benchmarks.send_throughput [--points 1000000] [--runs 3]
"""
import argparse
import time

import requests

from benchmarks.null_sink import NullSink
from benchmarks.timing import interleaved

SERIES = 1000


def series_list(module, points: int, metric: str, start: int) -> list:
    """The same series built with ``module.TimeSeries`` (ours or apptuit's)."""
    per_series = points // SERIES
    out = []
    for i in range(SERIES):
        series = module.TimeSeries(metric, {"host": "web-%d" % (i % 50), "route": "/r%d" % i})
        for j in range(per_series):
            series.add_point(start + j, float(i + j))
        out.append(series)
    return out


def rate(send, points: int) -> float:
    started = time.perf_counter()
    send()
    return points / (time.perf_counter() - started)


def measure(points: int = 1000000, runs: int = 3) -> dict:
    import apptuit
    import apptuit_like
    from apptuit_like.testing import LocalVictoriaMetrics
    start = int(time.time()) - 7200
    ours_series = series_list(apptuit_like, points, "bench_ts", start)
    theirs_series = series_list(apptuit, points, "bench_ts", start)
    with NullSink() as endpoint:
        ours = apptuit_like.Apptuit(api_endpoint=endpoint)
        theirs = apptuit.Apptuit(token="bench", api_endpoint=endpoint)
        result = interleaved({
            "ours": lambda: rate(lambda: ours.send_timeseries(ours_series), points),
            "apptuit": lambda: rate(lambda: theirs.send_timeseries(theirs_series, timeout=300),
                                    points)}, runs)
    metric = "bench_vm_%d" % time.time()
    with LocalVictoriaMetrics() as vm:
        client = apptuit_like.Apptuit(api_endpoint=vm.put_endpoint)
        vm_series = series_list(apptuit_like, points, metric, start)
        result["ours_vm"] = rate(lambda: client.send_timeseries(vm_series), points)
        vm.flush()
        answer = requests.get(vm.query_url + "/api/v1/query", timeout=60, params={
            "query": "sum(count_over_time(%s[3h]))" % metric}).json()
        result["vm_count"] = int(float(answer["data"]["result"][0]["value"][1]))
    result["points"] = points
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure(args.points, args.runs)
    print("send_timeseries, %d points: ours %.0f points/s, apptuit 2.4.2 %.0f points/s "
          "(%.1fx); into VictoriaMetrics %.0f points/s, read back %d"
          % (args.points, result["ours"], result["apptuit"], result["ours"] / result["apptuit"],
             result["ours_vm"], result["vm_count"]))
    return result


if __name__ == "__main__":
    main()
