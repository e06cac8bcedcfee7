"""Benchmark runs kept as JSON under ``benchmarks/results/``: what a figure in the
docs is generated from, and what the tests check quotes against.

A run file holds ``environment`` (machine, CPU, Python, package versions, load
average at start and end, date) and what the run measured, every sample included.

    save("full", {"steps": [...]})   # benchmarks/results/2026-12-06-1930-full.json
    load_all("full")                 # every kept run of that kind, oldest first
"""
import datetime
import glob
import importlib.metadata
import json
import os
import platform
from typing import Any, Dict, List

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment() -> Dict[str, Any]:
    """The machine and software a run measured on."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info
                          if line.startswith("model name")), model)
    except OSError:
        pass
    return {"date_utc": datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M"),
            "platform": platform.platform(), "cpus": os.cpu_count(), "cpu": model,
            "python": platform.python_version(),
            "versions": {name: _version(name) for name in (
                "apptuit_like", "apptuit", "pyformance", "requests", "urllib3", "pandas",
                "prometheus_client", "opentelemetry-sdk", "wavefront-pyformance")},
            "load_average_start": list(os.getloadavg())}


def save(kind: str, data: Dict[str, Any], env: Dict[str, Any]) -> str:
    """Write one run of ``kind``; returns its path."""
    env = dict(env, load_average_end=list(os.getloadavg()))
    stamp = env["date_utc"].replace(":", "").replace(" ", "-")
    path = os.path.join(RESULTS_DIR, "%s-%s.json" % (stamp, kind))
    os.makedirs(RESULTS_DIR, exist_ok=True)
    with open(path, "w") as out:
        json.dump(dict(data, kind=kind, environment=env), out, indent=1)
        out.write("\n")
    return path


def load_all(kind: str) -> List[Dict[str, Any]]:
    """Every kept run of ``kind``, oldest first."""
    runs = []
    for path in sorted(glob.glob(os.path.join(RESULTS_DIR, "*-%s.json" % kind))):
        with open(path) as source:
            runs.append(dict(json.load(source), path=os.path.basename(path)))
    return runs
