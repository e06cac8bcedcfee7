"""Query answers into pandas: apptuit_like against apptuit 2.4.2 on the same answer.

One Apptuit QL answer of 1,000 series × 1,440 points (a day at one-minute
resolution) is parsed by each library, then each library's ``Output.to_df``
builds a DataFrame from its own parse. CPU seconds, median of several runs.

    python -m benchmarks.query_df [--series 1000] [--points 1440] [--runs 5]
"""
import argparse
import json
import statistics
import time

T0 = 1700000000


def answer(series: int, points: int) -> bytes:
    return json.dumps({"outputs": [{"id": "latency", "result": [
        {"metric": "latency", "tags": {"route": "/r%d" % i},
         "dps": [[T0 + 60 * j, (i * 7 + j) % 1000 / 10.0] for j in range(points)]}
        for i in range(series)]}]}).encode()


def ours(body: bytes):
    from apptuit_like._query import parse_apptuit
    return lambda: parse_apptuit(body, T0)[0]


def theirs(body: bytes):
    from apptuit.apptuit_client import _parse_response
    return lambda: _parse_response(body, T0)[0]


def measure(parse, runs: int) -> dict:
    """Median CPU seconds of parsing and of to_df, and the frame's shape."""
    parse().to_df()   # warm-up: pandas imported, caches filled
    parses, frames = [], []
    for _ in range(runs):
        started = time.process_time()
        output = parse()
        parsed = time.process_time()
        frame = output.to_df()
        frames.append(time.process_time() - parsed)
        parses.append(parsed - started)
        del output, frame
    return {"parse": statistics.median(parses), "to_df": statistics.median(frames),
            "shape": parse().to_df().shape}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--points", type=int, default=1440)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", metavar="PATH", help="also append the run to this JSON file")
    args = parser.parse_args(argv)
    import warnings
    warnings.simplefilter("ignore")   # apptuit's to_df trips a pandas deprecation warning
    body = answer(args.series, args.points)
    results = {"apptuit_like": measure(ours(body), args.runs),
               "apptuit 2.4.2": measure(theirs(body), args.runs)}
    print("query → DataFrame: %d series × %d points (%.1f MB of JSON), median of %d runs"
          % (args.series, args.points, len(body) / 1e6, args.runs))
    for name, row in results.items():
        print("  %-14s parse %6.3f s   to_df %6.3f s   shape %s"
              % (name, row["parse"], row["to_df"], row["shape"]))
    ours_row, theirs_row = results["apptuit_like"], results["apptuit 2.4.2"]
    print("  ratio          parse %5.1fx    to_df %5.1fx faster   (target: to_df under 1 s: %s)"
          % (theirs_row["parse"] / ours_row["parse"], theirs_row["to_df"] / ours_row["to_df"],
             "met" if ours_row["to_df"] < 1.0 else "missed"))
    if args.json:
        keep(args.json, dict(vars(args), results=results))
    return results


def keep(path: str, run: dict) -> None:
    """Append ``run``, with the machine's load and versions, to the runs kept at ``path``."""
    import os
    import platform
    runs = json.load(open(path))["runs"] if os.path.exists(path) else []
    run.update(python=platform.python_version(), cpus=os.cpu_count(),
               load_average=os.getloadavg(), at=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                time.gmtime()))
    for row in run["results"].values():
        row["shape"] = list(row["shape"])
    with open(path, "w") as out:
        json.dump({"benchmark": "python -m benchmarks.query_df", "runs": runs + [run]}, out,
                  indent=1)


if __name__ == "__main__":
    main()
