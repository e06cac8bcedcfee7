"""The examples of docs/backends.md, run as written against real receivers: the
docs' localhost ports (9090 Prometheus, 8428 VictoriaMetrics, 8086 InfluxDB)
become the test servers' free ones."""
import json
import math
import re
import os
import pathlib
import subprocess
import sys
import time

import pytest

from receivers import LocalInfluxDB, LocalPrometheus, start
from conftest import start_own_vm
from test_readme import BLOCK

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "backends.md"


@pytest.fixture
def ports():
    """Servers of this test's own: the docs' series names are fixed."""
    vm = start_own_vm()
    prometheus, influx = start(LocalPrometheus), start(LocalInfluxDB)
    yield {"localhost:9090": prometheus, "localhost:8428": vm, "localhost:8086": influx}
    for server in (prometheus, influx, vm):
        server.stop()


def localised(text, ports):
    for address, server in ports.items():
        url = server.query_url if hasattr(server, "query_url") else server.url
        text = text.replace("http://" + address, url)
    return text


def test_every_example_of_the_backends_page_stores_its_points(ports, tmp_path):
    text = DOC.read_text()
    python = "\n".join(m.group(3) for m in BLOCK.finditer(text) if m.group(1) == "python")
    shell = [m.group(3) for m in BLOCK.finditer(text) if m.group(1) == "sh"]
    assert python.count("report_now()") == 4 and len(shell) == 1
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPTUIT_")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    done = subprocess.run([sys.executable, "-c", localised(python, ports)], env=env,
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    for line in shell[0].strip().splitlines():
        done = subprocess.run(localised(line, ports), shell=True, env=env, cwd=str(tmp_path),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "sent 1 point" in done.stdout, done.stderr
    prometheus, vm, influx = (ports[k] for k in ("localhost:9090", "localhost:8428",
                                                 "localhost:8086"))
    assert [points[-1][1] for points in prometheus.series(
        'orders_count{service="orders"}').values()] == [1.0]
    stored = vm.series('orders_count{city="BLR"}')   # remote write and lines, one series
    assert sorted(points[-1][1] for points in stored.values()) == [1.0, 3.0]
    assert [row["count"] for row in influx.rows("orders", "WHERE service='orders'")] == [1]
    assert [row["count"] for row in influx.rows("orders", "WHERE city='BLR' AND "
                                                "service != 'orders'")] == [3]


INTEGRATIONS = DOC.parent / "integrations.md"
# What each PromQL example of docs/integrations.md answers after its "Try it" block:
# {labels of a result: value}, None where the value depends on timing (a rate)
ANSWERS = [
    {(("route", "/orders/{order_id}"),): None, (("route", "unmatched"),): None},
    {(("route", "/orders/{order_id}"),): 0.25},   # a route without errors has no ratio
    {(("route", "/orders/{order_id}"),): None, (("route", "unmatched"),): None},
    {(("exception", "LookupError"),): None},
    {(): 0.0},
    {(("outcome", "success"), ("task", "orders.ship")): None}]


def test_the_integrations_page_runs_and_its_queries_answer(tmp_path):
    vm = start_own_vm()
    try:
        text = INTEGRATIONS.read_text()
        python = "\n".join(m.group(3) for m in BLOCK.finditer(text) if m.group(1) == "python")
        env = {k: v for k, v in os.environ.items() if not k.startswith("APPTUIT_")}
        env["APPTUIT_API_ENDPOINT"] = vm.put_endpoint   # as the page tells a user to set
        assert "localhost:4242" not in python   # no example overrides the environment
        done = subprocess.run([sys.executable, "-c", python], env=env, cwd=str(tmp_path),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        queries = [m.group(3) for m in BLOCK.finditer(text) if m.group(1) == "promql"]
        assert len(queries) == len(ANSWERS)
        for query, expected in zip(queries, ANSWERS):
            deadline = time.monotonic() + 10   # VM answers "now" from samples ~1 s old
            found = vm.at_now(query)
            while set(found) != set(expected) and time.monotonic() < deadline:
                time.sleep(0.25)
                found = vm.at_now(query)
            assert set(found) == set(expected), (query, found)
            # a ratio of two rates: equal up to rounding (0.24999999999999997 seen)
            assert all(math.isclose(found[k], v, rel_tol=1e-9, abs_tol=1e-12)
                       for k, v in expected.items() if v is not None), found
    finally:
        vm.stop()


DISTRIBUTIONS = DOC.parent / "distributions.md"


@pytest.mark.parametrize("mode", ["vmrange", "le"])
def test_the_distributions_page_runs_and_its_percentiles_tell_the_routes_apart(tmp_path,
                                                                               mode):
    vm = start_own_vm()
    try:
        text = DISTRIBUTIONS.read_text()
        python = "\n".join(m.group(3) for m in BLOCK.finditer(text) if m.group(1) == "python")
        env = {k: v for k, v in os.environ.items() if not k.startswith("APPTUIT_")}
        env.update(APPTUIT_API_ENDPOINT=vm.put_endpoint, APPTUIT_HISTOGRAM_BUCKETS=mode)
        done = subprocess.run([sys.executable, "-c", python], env=env, cwd=str(tmp_path),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        queries = [m.group(3) for m in BLOCK.finditer(text)
                   if m.group(1) == "promql" and m.group(2).strip() == mode]
        assert len(queries) == 2
        for query in queries:
            deadline = time.monotonic() + 10
            found = vm.at_now(query)
            while len(found) < 2 and time.monotonic() < deadline:
                time.sleep(0.25)
                found = vm.at_now(query)
            by_route = {dict(labels)["route"]: value for labels, value in found.items()}
            assert set(by_route) == {"/search", "/health"}, found
            # the slow route sleeps 50 ms: its percentiles lie in that bucket or above,
            # and above the fast route's (whose requests a loaded machine may slow)
            assert by_route["/search"] >= 0.02154, found
            assert by_route["/health"] < by_route["/search"], found
    finally:
        vm.stop()


def test_the_distributions_cost_table_is_the_kept_run():
    kept = json.loads((DOC.parent.parent / "benchmarks" / "results"
                       / "2026-12-06-bucket-cost.json").read_text())
    rows = {label: (median, quartiles) for label, median, quartiles in re.findall(
        r"^\| (.+?) \| ([\d.]+) \| ([\d.]+-[\d.]+) \|$", DISTRIBUTIONS.read_text(), re.M)}
    updates, reports = kept["update_ns"], kept["report_1000_timers_ms"]
    expected = {
        "`Histogram.add`, ns per value": (updates["apptuit_like Histogram.add"], "%.0f"),
        "prometheus_client `Histogram.observe`, ns per value":
            (updates["prometheus_client Histogram.observe"], "%.0f"),
        "drop-in timer around an empty block, ns": (updates["apptuit_like timer block"],
                                                     "%.0f"),
        "prometheus_client `Histogram.time()` around it, ns":
            (updates["prometheus_client Histogram.time() block"], "%.0f"),
        "report of 1,000 timers, no buckets, CPU ms": (reports["None"], "%.1f"),
        "the same with `vmrange`, CPU ms": (reports["vmrange"], "%.1f"),
        "the same with `le` (35,000 more points), CPU ms": (reports["le"], "%.1f")}
    assert set(expected) <= set(rows)
    for label, (summary, form) in expected.items():
        assert rows[label] == (form % summary["median"], "%s-%s" % (
            form % summary["q1"], form % summary["q3"])), label
    # the claim the table supports: no slower than prometheus_client, per update
    assert updates["apptuit_like Histogram.add"]["median"] < \
        updates["prometheus_client Histogram.observe"]["median"]


def test_the_distributions_before_and_after_figures_are_the_kept_runs():
    kept = json.loads((DOC.parent.parent / "benchmarks" / "results"
                       / "2026-12-06-bucket-cost-before-after.json").read_text())
    spans = []
    for name in ("before (a87f308)", "after"):
        medians = [run["update_ns"]["apptuit_like Histogram.add"]["median"]
                   for run in kept["runs"][name]]
        spans.append("%.0f-%.0f ns" % (min(medians), max(medians)))
    text = " ".join(DISTRIBUTIONS.read_text().split())
    assert "medians of %s for `Histogram.add` before and %s after" % (
        spans[0], spans[1]) in text, spans
