"""CPU and bytes per point of a report cycle over each wire, side by side with
the OpenTSDB wire and apptuit 2.4.2, to the same null sink.

    python -m benchmarks.wires [--series 10000 100000] [--runs 5]
"""
import argparse
import functools
from typing import Any, Dict, List

from benchmarks import report_cycle
from benchmarks.null_sink import NullSink
from benchmarks.timing import cpu_seconds, interleaved

WIRES = ("opentsdb", "remote_write", "influx")


def reporter(registry: Any, endpoint: str, wire: str) -> Any:
    from apptuit_like.pyformance import ApptuitReporter
    path = "/api/v1/write" if wire == "remote_write" else ""
    return ApptuitReporter(registry=registry, api_endpoint=endpoint + path, wire=wire,
                           tags={"service": "bench"}, max_series_per_metric=None)


def body_bytes(report: Any) -> int:
    """Bytes of request bodies one cycle of ``report`` (a reporter) sends, as
    they go to the HTTP session (packed or rendered by the wire)."""
    session = report.client.transport.session
    sizes: List[int] = []
    post = session.post

    def counted(url: str, data: bytes = b"", **options: Any) -> Any:
        sizes.append(len(data))
        return post(url, data=data, **options)
    session.post = counted
    try:
        report.report_now()
    finally:
        del session.post
    return sum(sizes)


def measure(series: int, runs: int) -> Dict[str, Any]:
    """{wire: {"cpu": s per cycle, "bytes": body bytes per cycle}, "apptuit 2.4.2":
    {"cpu": ...}, "points": points per cycle}."""
    counters = series * 10 // 11
    registry = report_cycle.build_registry(counters, series - counters)
    points = report_cycle.points_per_cycle(registry)
    with NullSink() as endpoint:
        reporters = {wire: reporter(registry, endpoint, wire) for wire in WIRES}
        reports = {wire: rep.report_now for wire, rep in reporters.items()}
        reports["apptuit 2.4.2"] = report_cycle.theirs(registry, endpoint)
        for report in reports.values():
            report()   # warm-up: caches filled, connections open
        got = interleaved({name: functools.partial(cpu_seconds, report)
                           for name, report in reports.items()}, runs)
        sizes = {wire: body_bytes(rep) for wire, rep in reporters.items()}
    out: Dict[str, Any] = {name: {"cpu": cpu} for name, cpu in got.items()}
    for wire, size in sizes.items():
        out[wire]["bytes"] = size
    out["points"] = points
    return out


def main(argv: Any = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    for series in args.series:
        got = measure(series, args.runs)
        points = got["points"]
        base = got["opentsdb"]["cpu"]
        for name in WIRES + ("apptuit 2.4.2",):
            row = got[name]
            print("%dk series, %-14s %6.2f us/point CPU (%.2fx the opentsdb wire)%s" % (
                series // 1000, name, row["cpu"] / points * 1e6, row["cpu"] / base,
                ", %.1f bytes/point" % (row["bytes"] / points) if "bytes" in row else ""))


if __name__ == "__main__":
    main()
