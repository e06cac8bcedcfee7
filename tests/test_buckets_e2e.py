"""Percentiles across hosts, read back from real receivers.

Three reporters stand for three hosts with very different latency mixes. Their
bucket series, summed by ``vmrange`` (VictoriaMetrics) or ``le`` (VictoriaMetrics
and Prometheus), give ``histogram_quantile(0.99, ...)`` within one bucket of the
true p99 of every value; the mean and the max of the hosts' own
``99_percentile`` series do not come near it. README.md and docs/distributions.md quote
the figures this scenario gives, and the last test checks them.
"""
import math
import random
import re
import time
from pathlib import Path

import pytest

from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry
from apptuit_like.pyformance._buckets import LE_BOUNDS
from apptuit_like.timeseries import encode_metric
from receivers import LocalPrometheus, start

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "docs" / "distributions.md"]   # both quote them
# host: (values, median seconds, log-normal sigma)
MIX = {"a": (20000, 0.005, 0.3), "b": (2000, 0.08, 0.4), "c": (100, 1.5, 0.3)}
VMRANGE_WIDTH = 10 ** (1 / 18)   # the ratio of a vmrange bucket's bounds
LE_WIDTH = 10 ** (1 / 3)


def true_p99(values):
    ordered = sorted(values)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def fill(uid):
    """The three hosts' registries, each timer fed its mix (seeded: the same
    values and the same reservoir samples every run); and every value."""
    random.seed(20261206)   # the reservoirs' priorities draw from the global generator
    draw = random.Random(32)
    registries, every = {}, []
    for host, (count, median, sigma) in MIX.items():
        registry = MetricsRegistry()
        timer = registry.timer(encode_metric(uid + ".latency", {"route": "/orders"}))
        for _ in range(count):
            seconds = draw.lognormvariate(math.log(median), sigma)
            timer._update(seconds)
            every.append(seconds)
        registries[host] = registry
    return registries, every


def report_hosts(registries, uid, endpoint, mode, **options):
    for host, registry in registries.items():
        reporter = ApptuitReporter(registry=registry, api_endpoint=endpoint,
                                   tags={"host": host, "test": uid}, disable_host_tag=True,
                                   histogram_buckets=mode, **options)
        reporter.report_now()


def instant(query_fn, query, want):
    """Poll an instant query until it returns ``want`` results (samples become
    visible to "now" within a second or two)."""
    deadline = time.monotonic() + 15
    found = query_fn(query)
    while len(found) != want and time.monotonic() < deadline:
        time.sleep(0.25)
        found = query_fn(query)
    assert len(found) == want, (query, found)
    return found


def figures(query_fn, uid, label):
    """(bucket estimate of p99, mean and max of the hosts' p99 series, stored count)."""
    name = uid + "_latency"
    estimate = instant(query_fn, 'histogram_quantile(0.99, sum by (%s) (%s_bucket{test="%s"}))'
                       % (label, name, uid), 1)
    per_host = instant(query_fn, '%s_99_percentile{test="%s"}' % (name, uid), 3)
    count = instant(query_fn, 'sum(%s_count{test="%s"})' % (name, uid), 1)
    p99s = list(per_host.values())
    return (list(estimate.values())[0], sum(p99s) / len(p99s), max(p99s),
            list(count.values())[0])


def check(estimate, mean, high, truth, width):
    assert truth / width <= estimate <= truth * width, (estimate, truth)
    # the per-host percentiles are off by far more than a bucket
    assert mean > truth * width and high > truth * width, (mean, high, truth)


def test_vmrange_buckets_give_the_p99_of_all_hosts_in_victoriametrics(vm, uid):
    registries, every = fill(uid)
    report_hosts(registries, uid, vm.put_endpoint, "vmrange")
    estimate, mean, high, count = figures(vm.at_now, uid, "vmrange")
    assert count == len(every)
    check(estimate, mean, high, true_p99(every), VMRANGE_WIDTH)


def le_prometheus_query(prometheus):
    import requests   # pylint: disable=import-outside-toplevel

    def query(text):
        answer = requests.get(prometheus.url + "/api/v1/query", timeout=30,
                              params={"query": text, "time": "%.3f" % time.time()})
        answer.raise_for_status()
        return {tuple(sorted(row["metric"].items())): float(row["value"][1])
                for row in answer.json()["data"]["result"]}
    return query


@pytest.mark.parametrize("receiver", ["victoria-metrics", "prometheus"])
def test_le_buckets_give_the_p99_of_all_hosts(vm, uid, receiver):
    registries, every = fill(uid)
    if receiver == "prometheus":
        prometheus = start(LocalPrometheus)
        try:
            report_hosts(registries, uid, prometheus.write_url, "le", wire="remote_write")
            estimate, mean, high, count = figures(le_prometheus_query(prometheus), uid, "le")
        finally:
            prometheus.stop()
    else:
        report_hosts(registries, uid, vm.put_endpoint, "le")
        estimate, mean, high, count = figures(vm.at_now, uid, "le")
    assert count == len(every)
    check(estimate, mean, high, true_p99(every), LE_WIDTH)


@pytest.mark.parametrize("wire", ["remote_write", "influx"])
def test_every_wire_carries_the_same_buckets(vm, uid, wire):
    """Bucket series sent over each wire are stored as the OpenTSDB wire's are."""
    registries, _ = fill(uid)
    report_hosts(registries, uid, vm.put_endpoint, "vmrange")
    reference = vm.series('{__name__="%s_latency_bucket", test="%s"}' % (uid, uid))
    other = uid + wire[:2]
    registries, _ = fill(other)
    endpoint = vm.query_url + ("/api/v1/write" if wire == "remote_write" else "")
    report_hosts(registries, other, endpoint, "vmrange", wire=wire)
    stored = vm.series('{__name__="%s_latency_bucket", test="%s"}' % (other, other))
    assert len(reference) > 20
    renamed = {(name.replace(other, uid, 1), tuple((k, uid if v == other else v)
                                                   for k, v in tags)): points[-1][1]
               for (name, tags), points in stored.items()}
    assert renamed == {key: points[-1][1] for key, points in reference.items()}


def test_the_docs_quote_the_figures_this_scenario_gives(vm, uid):
    registries, every = fill(uid)
    report_hosts(registries, uid, vm.put_endpoint, "vmrange")
    vmrange = figures(vm.at_now, uid, "vmrange")
    other = uid + "le"
    registries, _ = fill(other)
    report_hosts(registries, other, vm.put_endpoint, "le")
    le = figures(vm.at_now, other, "le")
    measured = {"true p99 of all 22,100 values": true_p99(every),
                "`histogram_quantile` over `vmrange` buckets": vmrange[0],
                "`histogram_quantile` over `le` buckets": le[0],
                "mean of the hosts' `99_percentile`": vmrange[1],
                "max of the hosts' `99_percentile`": vmrange[2]}
    for page in PAGES:
        quoted = dict(re.findall(r"^\| (.+?) \| ([\d.]+) s \|", page.read_text(), re.M))
        assert set(measured) <= set(quoted), "%s lacks rows of the table" % page.name
        for label, value in measured.items():
            assert float(quoted[label]) == pytest.approx(value, rel=0.01), (page.name, label)
