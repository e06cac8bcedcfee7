"""The cardinality guard against VictoriaMetrics: 2,000 series per metric name,
the rest folded into one overflow series whose total keeps sum() exact."""
import json
import logging
import time

import pytest
import requests
from pyformance import MetricsRegistry
from pyformance.meters import SimpleGauge

from apptuit_like.pyformance import ApptuitReporter
from apptuit_like.pyformance import MetricsRegistry as DropInRegistry
from apptuit_like.pyformance._cardinality import fold
from apptuit_like.pyformance._collect import Collector
from apptuit_like._sanitize import get_sanitizer
from apptuit_like.timeseries import encode_metric
from apptuit_like._wire import SKIP


def promql_sum(vm, expr):
    vm.flush()
    # VictoriaMetrics answers "now" from samples about a second old: ask a little later
    answer = requests.get(vm.query_url + "/api/v1/query", timeout=30,
                          params={"query": expr, "time": "%.3f" % (time.time() + 5)})
    answer.raise_for_status()
    return [float(row["value"][1]) for row in answer.json()["data"]["result"]]


@pytest.mark.parametrize("make", [MetricsRegistry, DropInRegistry])
def test_ten_thousand_user_ids_store_the_cap_plus_one_series_with_the_exact_sum(vm, uid,
                                                                                   make, caplog):
    registry = make()
    for user in range(10000):
        registry.counter(encode_metric(uid + ".logins", {"user": str(user)})).inc(user % 3 + 1)
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               tags={"test": uid}, disable_host_tag=True)
    with caplog.at_level(logging.WARNING, logger="apptuit_like"):
        reporter.report_now()
        reporter.report_now()
    stored = vm.series('%s_logins_count{test="%s"}' % (uid, uid))
    overflow = [tags for _, tags in stored if ("overflow", "true") in tags]
    assert len(stored) == 2001 and overflow == [(("overflow", "true"), ("test", uid))]
    exact = sum(user % 3 + 1 for user in range(10000))
    assert promql_sum(vm, 'sum(%s_logins_count{test="%s"})' % (uid, uid)) == [exact]
    kept = {dict(tags)["user"] for _, tags in stored if ("overflow", "true") not in tags}
    assert kept == {str(user) for user in range(2000)}   # the first ones seen, stable
    assert caplog.text.count("has more than 2000 series") == 1
    assert reporter.stats()["folded"] == 8000
    folded = vm.series('apptuit_reporter_series_folded_value{test="%s"}' % uid)
    assert [points[-1][1] for points in folded.values()] == [8000]


def test_timers_histograms_fold_with_exact_counts_and_gauges_past_the_cap_are_dropped(vm, uid):
    registry = MetricsRegistry()
    for route in range(5):
        timer = registry.timer(encode_metric(uid + ".lat", {"route": "/r%d" % route}))
        hist = registry.histogram(encode_metric(uid + ".size", {"route": "/r%d" % route}))
        registry.gauge(encode_metric(uid + ".depth", {"q": str(route)}), SimpleGauge(route))
        for i in range(route + 1):
            timer._update(0.01 * (i + 1))
            hist.add(10 * (i + 1))
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               tags={"test": uid}, disable_host_tag=True,
                               max_series_per_metric=2)
    reporter.report_now()

    def latest(name):
        return {dict(tags).get("route", dict(tags).get("q", "overflow")): points[-1][1]
                for (_, tags), points in vm.series('%s{test="%s"}' % (name, uid)).items()}
    assert latest(uid + "_lat_count") == {"/r0": 1, "/r1": 2, "overflow": 3 + 4 + 5}
    assert latest(uid + "_lat_sum")["overflow"] == pytest.approx(
        sum(0.01 * (i + 1) for r in (2, 3, 4) for i in range(r + 1)))
    assert latest(uid + "_lat_max")["overflow"] == pytest.approx(0.05)
    assert latest(uid + "_size_count")["overflow"] == 12
    assert latest(uid + "_size_avg")["overflow"] == pytest.approx(
        sum(10 * (i + 1) for r in (2, 3, 4) for i in range(r + 1)) / 12)
    assert vm.series('%s_lat_95_percentile{test="%s", overflow="true"}' % (uid, uid)) == {}
    assert latest(uid + "_depth_value") == {"0": 0, "1": 1}   # no overflow gauge
    assert reporter.stats()["folded"] == 3 * 3


def test_no_cap_sends_every_series_and_a_bad_cap_is_refused(vm, uid):
    registry = MetricsRegistry()
    for user in range(2500):
        registry.counter(encode_metric(uid + ".hits", {"user": str(user)})).inc()
    ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint, tags={"test": uid},
                    max_series_per_metric=None).report_now()
    assert len(vm.series('%s_hits_count{test="%s"}' % (uid, uid))) == 2500
    with pytest.raises(ValueError, match="max_series_per_metric must be a positive integer"):
        ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint, max_series_per_metric=0)


def test_fold_adds_counts_and_sums_combines_extremes_and_leaves_out_the_rest():
    fields = ("avg", "sum", "count", "max", "min", "std_dev", "1m_rate", "99_percentile")
    got = fold(fields, [(1.0, 2.0, 2, 1.5, 0.5, 0.7, 0.1, 1.4),
                        (3.0, 9.0, 3, 4.0, SKIP, 1.1, 0.2, 3.9), (None,) * 8])
    assert got == (11.0 / 5, 11.0, 5, 4.0, 0.5, SKIP, pytest.approx(0.3), SKIP)
    assert fold(("value",), [(1,), (2,)]) is None


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_an_idle_series_stops_being_sent_and_a_change_brings_it_back(vm, uid):
    registry = MetricsRegistry()
    busy = registry.counter(encode_metric(uid + ".busy", {}))
    quiet = registry.counter(encode_metric(uid + ".quiet", {}))
    reporter = ApptuitReporter(registry=registry, api_endpoint=vm.put_endpoint,
                               tags={"test": uid}, disable_host_tag=True,
                               idle_series_timeout="1m")
    clock = reporter._collector.idle._clock = Clock()
    sent = []
    for step, (advance, touch) in enumerate([(0, busy), (30, busy), (31, busy), (1, quiet),
                                             (1, None)]):
        clock.now += advance
        if touch is not None:
            touch.inc()
        reporter.report_now()
        sent.append(sorted(reporter._collector._views["counter"].keys))

    def samples(name):
        return [value for _, value in list(vm.series(
            '%s_%s_count{test="%s"}' % (uid, name, uid)).values())[0]]
    assert samples("busy") == [1, 2, 3, 3, 3]   # changed within the minute: always sent
    assert samples("quiet") == [0, 0, 1, 1]     # idle after 61 s, back when it changed
    assert [len(keys) for keys in sent] == [2, 2, 1, 2, 2]   # its cached head freed


def test_a_bad_idle_timeout_is_refused_by_name():
    with pytest.raises(ValueError, match="idle_series_timeout must be positive"):
        ApptuitReporter(registry=MetricsRegistry(), api_endpoint="http://127.0.0.1:1",
                        idle_series_timeout="soon")


GROUP_APP = """
import os
from pyformance import MetricsRegistry
from apptuit_like.pyformance import ApptuitReporter
from apptuit_like.timeseries import encode_metric

registry = MetricsRegistry()
reporter = ApptuitReporter(registry=registry, tags={"test": os.environ["TEST_UID"]},
                           reporting_interval=0.5, max_series_per_metric=50)
reporter.start()


def app(environ, start_response):
    registry.counter(encode_metric("logins", {"user": environ["QUERY_STRING"]})).inc()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


@pytest.mark.slow
def test_a_gunicorn_group_caps_the_merged_series_and_keeps_the_sum_exact(vm, uid, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from apptuit_like.testing import free_port
    from test_multiprocess_servers import wait_for_port
    (tmp_path / "app.py").write_text(GROUP_APP)
    port = free_port()
    env = dict(os.environ, TEST_UID=uid, APPTUIT_API_ENDPOINT=vm.put_endpoint,
               APPTUIT_MULTIPROCESS_DIR=str(tmp_path / "group"), PYTHONPATH=str(tmp_path))
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:%d" % port,
                               "-w", "3", "app:app"], cwd=str(tmp_path), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        wait_for_port(port, server)
        with requests.Session() as session:   # workers see different ids
            for user in range(300):
                assert session.get("http://127.0.0.1:%d/?u%d" % (port, user),
                                   timeout=30).text == "ok"
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0, server.stderr.read().decode()[-2000:]
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    stored = vm.series('logins_count{test="%s"}' % uid)
    assert len(stored) == 51
    assert sum(points[-1][1] for points in stored.values()) == 300
    assert len([tags for _, tags in stored if ("overflow", "true") in tags]) == 1


def test_a_kind_emptied_then_filled_again_is_read_afresh():
    """A kind found empty twice is passed over; it is read again when it fills,
    and the fold it had is forgotten when it empties."""
    registry = MetricsRegistry()
    collector = Collector("", {"host": "h"}, get_sanitizer("prometheus"),
                          max_series_per_metric=1)

    def sent():
        points, _ = collector.collect(registry, 1700000000)
        return sorted((p["metric"], p["tags"].get("k", "-"), p["value"])
                      for p in map(json.loads, points))
    registry.counter(encode_metric("c", {"k": "1"})).inc(2)
    registry.counter(encode_metric("c", {"k": "2"})).inc(3)
    assert sent() == [("c_count", "-", 3), ("c_count", "1", 2)]
    assert collector.guard.folded == {("counter", "c"): 1}
    registry.clear()
    assert sent() == [] and sent() == []
    assert collector.guard.folded == {}
    registry.counter(encode_metric("c", {"k": "1"})).inc(7)
    registry.counter(encode_metric("c", {"k": "3"})).inc(5)   # past the cap, as before
    registry.histogram(encode_metric("h", {"k": "4"})).add(1)
    points = sent()
    assert [p for p in points if p[0] == "c_count"] == [("c_count", "-", 5), ("c_count", "1", 7)]
    assert ("h_count", "4", 1) in points
    assert collector.guard.folded == {("counter", "c"): 1}


def test_a_metric_under_the_cap_holds_no_set_and_one_crossing_it_keeps_what_it_sent():
    """Keys of a metric under the cap are all sent and the guard keeps no set of
    them (at 100k series, 3 MB); past the cap, the keys sent before stay the sent
    ones even when the registry now lists new keys first."""
    from apptuit_like.pyformance._cardinality import Guard
    guard = Guard(4)
    old = ['m{"k": "%d"}' % i for i in range(3)]
    assert guard.split("counter", old, [0, 1, 2]) == (old, [0, 1, 2], {})
    assert guard._admitted == {}
    assert guard.shared() == {"m": sorted(old)}   # a process group still learns the choice
    new = ['m{"k": "n%d"}' % i for i in range(2)]
    keys = new + old
    kept, metrics, folded = guard.split("counter", keys, [10, 11, 0, 1, 2])
    assert kept == [new[0]] + old and metrics == [10, 0, 1, 2]
    assert folded == {"m": ([new[1]], [11])}
    assert guard.split("counter", list(keys), [10, 11, 0, 1, 2])[2] == folded   # stable
    assert guard.shared() == {"m": sorted([new[0]] + old)}
