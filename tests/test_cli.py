"""The apptuit-like command: demo, send and query against the real VictoriaMetrics."""
import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import weakref

import pytest
import requests

from apptuit_like import _cli as cli
from apptuit_like.pyformance import ApptuitReporter
from servers import Reply, VictoriaMetrics

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    """(exit status, stdout, stderr) of the command run in this process."""
    try:
        status = cli.main(list(argv))
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def test_demo_end_to_end_against_a_local_victoria_metrics(capsys, tmp_path):
    png = tmp_path / "demo.png"
    status, out, err = run(capsys, "demo", "--duration", "3", "--interval", "1",
                           "--plot", str(png))
    assert status == 0, out + err
    assert "Started VictoriaMetrics on loopback" in out
    handled = int(re.search(r"Handled (\d+) orders", out).group(1))
    per_city = re.findall(r'^order_count_count\{city="(\w+)"\}\s+(\d+)\s+(\d+)$', out, re.M)
    assert sorted(city for city, _, _ in per_city) == ["BLR", "DEL", "HYD", "PNQ"]
    assert handled > 0 and sum(int(last) for _, last, _ in per_city) == handled, \
        "the last values read back add up to every order handled"
    assert all(int(samples) >= 3 for _, _, samples in per_city)
    for name in ("order_requests_count", "order_processing_time_99_percentile",
                 "order_size_max", "order_queue_depth_value", "python_thread_value"):
        assert re.search(r"^%s\b" % name, out, re.M), name
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10000
    # the printed count and the stored meta counter differ by the last report, and
    # the output says why
    sent = int(re.search(r"reporter sent (\d+) application points", out).group(1))
    stored = re.search(r"^apptuit_reporter_send_successful_count\S*\s+(\d+)", out, re.M)
    assert stored and 0 < int(stored.group(1)) < sent
    assert "trails this by the last report" in out


def test_demo_cleans_up_on_ctrl_c():
    demo = subprocess.Popen([sys.executable, "-u", "-m", "apptuit_like", "demo", "--duration",
                             "60", "--no-plot"], stdout=subprocess.PIPE, text=True)
    started = demo.stdout.readline()
    match = re.search(r"queries to (\S+), data in (\S+)", started)
    assert match, started
    query_url, data_dir = match.groups()
    assert demo.stdout.readline().startswith("Order service running")
    demo.send_signal(signal.SIGINT)
    assert demo.wait(30) == 1
    demo.stdout.close()
    assert not os.path.exists(data_dir), "the temporary data directory is removed"
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(query_url + "/health", timeout=2)


def _ctrl_c_inside_a_finalizer() -> None:
    """Ctrl-C while the main thread runs a finalizer (urllib3 closes a collected
    pool's connections in one): its KeyboardInterrupt is raised there, and lost."""
    bait = type("Bait", (), {})()
    weakref.finalize(bait, lambda: (signal.pthread_kill(threading.main_thread().ident,
                                                        signal.SIGINT), time.sleep(5)))
    del bait


def test_a_ctrl_c_lost_inside_a_finalizer_still_stops_the_demo(capsys, monkeypatch):
    swallowed = []
    monkeypatch.setattr(sys, "unraisablehook", swallowed.append)
    stats, calls = ApptuitReporter.stats, []

    def stats_and_ctrl_c(reporter):
        calls.append(threading.current_thread())
        if len(calls) == 3:   # in the progress loop, on the main thread
            _ctrl_c_inside_a_finalizer()
        return stats(reporter)

    monkeypatch.setattr(ApptuitReporter, "stats", stats_and_ctrl_c)
    started = time.monotonic()
    status, out, err = run(capsys, "demo", "--duration", "60", "--no-plot")
    assert calls[2] is threading.main_thread()
    assert [type(u.exc_value) for u in swallowed] == [KeyboardInterrupt], \
        "the interrupt was raised inside the finalizer and dropped there"
    assert status == 1 and "demo: interrupted" in err, out + err
    assert time.monotonic() - started < 20, "the demo stopped without running its 60 s"


def test_demo_reports_to_the_configured_backend(capsys, vm, monkeypatch):
    monkeypatch.setenv("APPTUIT_API_ENDPOINT", vm.put_endpoint)
    monkeypatch.setenv("APPTUIT_QUERY_ENDPOINT", vm.query_url)
    status, out, err = run(capsys, "demo", "--duration", "2", "--interval", "1", "--no-plot")
    assert status == 0, out + err
    assert "Reporting to %s" % vm.put_endpoint in out and "Started" not in out
    assert "Read back with PromQL at %s" % vm.query_url in out
    assert re.search(r'^order_count_count\{city="BLR"\}', out, re.M)


@pytest.mark.slow
def test_demo_against_a_default_victoria_metrics_waits_out_its_latency_offset(
        capsys, monkeypatch, tmp_path):
    # started as a user would without the README's flag: the newest 30 s are hidden
    with VictoriaMetrics(str(tmp_path), extra_args=["-search.latencyOffset=30s"]) as vm:
        monkeypatch.setenv("APPTUIT_API_ENDPOINT", vm.put_endpoint)
        monkeypatch.setenv("APPTUIT_QUERY_ENDPOINT", vm.query_url)
        status, out, err = run(capsys, "demo", "--duration", "2", "--interval", "1",
                               "--no-plot")
    assert "VictoriaMetrics hides the newest 30 s from queries unless it runs with " \
           "-search.latencyOffset=0s" in out
    assert status == 0, out + err
    assert re.search(r'^order_count_count\{city="BLR"\}', out, re.M)


def test_demo_without_the_binary_says_how_to_install(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    status, out, _ = run(capsys, "demo", "--duration", "1")
    assert status == 1 and "apt-get install -y victoria-metrics" in out


def test_send_telnet_json_lines_and_json_array_arrive_exactly(capsys, vm, uid, tmp_path):
    now = int(time.time())
    telnet = tmp_path / "points.txt"
    telnet.write_text("# a comment\n\nput %s.cpu %d 0.5 host=a core=0\n"
                      "put %s.cpu %d000 1.5 host=b\n" % (uid, now - 10, uid, now - 20))
    lines = tmp_path / "points.jsonl"
    lines.write_text(json.dumps({"metric": uid + ".mem", "timestamp": now - 30, "value": 7,
                                 "tags": {"host": "a"}}) + "\n")
    array = tmp_path / "points.json"
    array.write_text(json.dumps([{"metric": uid + ".mem", "timestamp": now - 40,
                                  "value": "8.5", "tags": {"host": "b"}}], indent=2))
    status, out, err = run(capsys, "send", "--endpoint", vm.put_endpoint, "--tag", "env=test",
                           str(telnet), str(lines), str(array))
    assert status == 0, err
    assert out.startswith("sent 4 points in ") and "failed 0, bad lines 0" in out
    assert vm.series('{__name__=~"%s_.*"}' % uid) == {
        (uid + "_cpu", (("core", "0"), ("env", "test"), ("host", "a"))): [(now - 10, 0.5)],
        (uid + "_cpu", (("env", "test"), ("host", "b"))): [(now - 20, 1.5)],
        (uid + "_mem", (("env", "test"), ("host", "a"))): [(now - 30, 7)],
        (uid + "_mem", (("env", "test"), ("host", "b"))): [(now - 40, 8.5)]}


BAD_INPUT = """put {uid}.ok {now} 1 host=a
put {uid}.ok {now} one host=a
put {uid}.ok {now} 2
{{"metric": "{uid}.ok", "timestamp": {now}, "value": 3, "tags": {{"host": "b"}}}}
{{"metric": "{uid}.ok", "timestamp": {now},
put {uid}.ok yesterday 4 host=c
put {uid}.ok {now} 5 host
put {uid}.ok {now} 6 host=d
"""


def test_send_skips_bad_lines_naming_each_and_sends_the_rest(capsys, vm, uid, tmp_path):
    now = int(time.time())
    source = tmp_path / "bad.txt"
    source.write_text(BAD_INPUT.format(uid=uid, now=now))
    status, out, err = run(capsys, "send", "--endpoint", vm.put_endpoint, str(source))
    assert status == 1
    assert "sent 3 points" in out and "bad lines 5" in out
    reported = [line.split(":")[0] for line in err.splitlines()]
    assert reported == ["%s, line %d" % (source, n) for n in (2, 3, 5, 6, 7)]
    assert "value 'one' of %s.ok is not a number" % uid in err
    assert "No tags for %s.ok" % uid in err
    assert "tag 'host' is not <key>=<value>" in err
    stored = vm.series('{__name__="%s_ok"}' % uid)
    assert sorted(dict(labels)["host"] for _, labels in stored) == ["a", "b", "d"]


def test_send_strict_stops_at_the_first_bad_line(capsys, vm, uid, tmp_path):
    now = int(time.time())
    source = tmp_path / "bad.txt"
    source.write_text(BAD_INPUT.format(uid=uid, now=now))
    status, out, err = run(capsys, "send", "--strict", "--endpoint", vm.put_endpoint,
                           str(source))
    assert status == 1 and "stopped at line 2 (--strict)" in out
    assert err.splitlines() == ["%s, line 2: value 'one' of %s.ok is not a number"
                                % (source, uid)]
    stored = vm.series('{__name__="%s_ok"}' % uid)
    assert [dict(labels)["host"] for _, labels in stored] == ["a"]


def test_send_reports_a_failed_backend(capsys, fake, tmp_path):
    fake.default = Reply(400, {"success": 0, "failed": 1, "errors": [
        {"datapoint": {"metric": "m"}, "error": "metric m is blocked"}]})
    source = tmp_path / "p.txt"
    source.write_text("put m 1700000000 1 host=a\n")
    status, out, err = run(capsys, "send", "--endpoint", fake.endpoint, str(source))
    assert status == 1 and "failed 1" in out and "metric m is blocked" in err


def test_send_from_stdin_through_the_module_entry_point(vm, uid):
    now = int(time.time())
    text = "".join("put %s.stdin %d %d shard=%d\n" % (uid, now - i, i, i % 3)
                   for i in range(1000))
    done = subprocess.run([sys.executable, "-m", "apptuit_like", "send", "--endpoint",
                           vm.put_endpoint, "--batch-size", "300"], input=text,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sent 1000 points")
    stored = vm.series('{__name__="%s_stdin"}' % uid)
    assert sum(len(points) for points in stored.values()) == 1000


@pytest.fixture(scope="module")
def queried(vm):
    metric = "cli_q_%d" % time.monotonic_ns()
    t0 = (int(time.time()) // 60) * 60 - 1800
    lines = "".join("put %s %d %d city=%s\n" % (metric, t0 + 60 * i, i * k, city)
                    for i in range(10) for k, city in ((1, "blr"), (2, "del")))
    done = subprocess.run([sys.executable, "-m", "apptuit_like", "send", "--endpoint",
                           vm.put_endpoint], input=lines, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    vm.flush()
    return metric, t0


def test_query_promql_prints_a_table(capsys, vm, queried):
    metric, t0 = queried
    status, out, err = run(capsys, "query", "--promql", metric, "--query-endpoint",
                           vm.query_url, "--start", str(t0), "--end", str(t0 + 540),
                           "--step", "1m")
    assert status == 0, err
    assert "output %s: 2 series" % metric in out
    assert '%s{city="del"}  (10 points)' % metric in out
    last = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t0 + 540))
    assert re.search(r"^  %s\s+18$" % re.escape(last), out, re.M)


def test_query_promql_writes_csv(capsys, vm, queried, tmp_path, monkeypatch):
    metric, t0 = queried
    monkeypatch.setenv("APPTUIT_QUERY_ENDPOINT", vm.query_url)
    target = tmp_path / "out.csv"
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0))   # ISO 8601, UTC
    status, out, err = run(capsys, "query", "--promql", "sum by (city) (%s)" % metric,
                           "--start", start, "--end", str(t0 + 540), "--csv", str(target))
    assert status == 0, err
    assert out == "wrote 10 rows to %s\n" % target
    rows = list(csv.reader(target.open()))
    assert rows[0][:2] == ["timestamp", "time_utc"]
    assert sorted(rows[0][2:]) == ['sum by (city) (%s){city="blr"}' % metric,
                                   'sum by (city) (%s){city="del"}' % metric]
    assert rows[1][0] == str(t0) and len(rows) == 11


def test_query_with_relative_start_as_written_in_the_readme(capsys, vm, queried):
    metric, t0 = queried
    status, out, err = run(capsys, "query", "--promql", "sum by (city) (%s)" % metric,
                           "--query-endpoint", vm.query_url, "--start", "-60m", "--step",
                           "1m", "--csv", "-")
    assert status == 0, err
    rows = list(csv.reader(out.splitlines()))
    assert len(rows) > 10 and all(row[0].isdigit() for row in rows[1:])   # whole seconds
    assert [row[2:] for row in rows[1:] if row[0] == str(t0 + 540)] in (
        [["18", "9"]], [["9", "18"]])


def test_bare_negative_start_is_seconds_ago(capsys, fake):
    fake.script(Reply(200, {"outputs": []}))
    asked = time.time()
    run(capsys, "query", "fetch('cpu')", "--endpoint", fake.endpoint, "--start", "-3600")
    start = int(re.search(r"start=(\d+)", fake.requests[0]["path"]).group(1))
    assert abs(start - (asked - 3600)) < 60   # not Unix time -3600, in 1969


def test_csv_keeps_full_precision(capsys, fake):
    fake.script(Reply(200, {"outputs": [{"id": "x", "result": [
        {"metric": "big", "tags": {"k": "v"}, "dps": [[1795410000, 1234567.89],
                                                   [1795410060, 0.30000000000000004]]}]}]}))
    status, out, _ = run(capsys, "query", "fetch('big')", "--endpoint", fake.endpoint,
                         "--start", "1795400000", "--end", "1795420000", "--csv", "-")
    assert status == 0
    rows = list(csv.reader(out.splitlines()))
    utc = [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) for t in (1795410000, 1795410060)]
    assert rows[1:] == [["1795410000", utc[0], "1234567.89"],
                        ["1795410060", utc[1], "0.30000000000000004"]]


def test_query_apptuit_ql(capsys, fake):
    fake.script(Reply(200, {"outputs": [{"id": "cpu", "result": [
        {"metric": "cpu", "tags": {"host": "a"}, "dps": [[1700000000, 0.25]]}]}]}))
    status, out, _ = run(capsys, "query", "fetch('cpu')", "--endpoint", fake.endpoint,
                         "--start", "1699999000", "--end", "1700000100")
    assert status == 0
    assert 'cpu{host="a"}  (1 point)' in out and "2023-11-14 22:13:20   0.25" in out
    assert "q=fetch%28%27cpu%27%29" in fake.requests[0]["path"]


def test_query_error_exits_1_with_the_servers_message(capsys, vm):
    status, _, err = run(capsys, "query", "--promql", "up{", "--endpoint", vm.query_url,
                         "--retry", "0")
    assert status == 1 and "HTTP 422" in err


@pytest.mark.parametrize("argv, fragment", [
    ([], "the following arguments are required: COMMAND"),
    (["query"], "the following arguments are required: query"),
    (["query", "x", "--start", "last tuesday"], "cannot read the time 'last tuesday'"),
    (["send", "--tag", "env"], "--tag 'env' is not KEY=VALUE"),
    (["send", "--endpoint", "ftp://x"], "Invalid endpoint 'ftp://x'"),
    (["send", "--endpoint", "http://127.0.0.1:9", "no-such.txt"], "cannot read no-such.txt"),
    (["demo", "--duration", "-1"], "'-1' must be positive"),
])
def test_usage_errors_exit_2(capsys, argv, fragment):
    status, _, err = run(capsys, *argv)
    assert status == 2 and fragment in err


@pytest.mark.parametrize("command", [[], ["demo"], ["send"], ["query"]])
def test_help_for_every_command(capsys, command):
    status, out, _ = run(capsys, *command, "--help")
    assert status == 0 and out.startswith("usage: apptuit-like")


def test_console_script_is_installed():
    done = subprocess.run(["apptuit-like", "--version"], capture_output=True, text=True,
                          env={"PATH": str(__import__("pathlib").Path(sys.executable).parent)})
    assert done.returncode == 0 and done.stdout.startswith("apptuit-like 0.")


def send_with_stderr_on(stderr_is_tty, fake):
    """Run `apptuit-like send` with 6 slow batches; return what reached stderr."""
    fake.default = Reply(204, delay=0.3)
    lines = "".join("put progress.test %d %d k=v\n" % (int(time.time()), i) for i in range(60))
    if stderr_is_tty:
        import pty
        reader, writer = pty.openpty()
    else:
        reader, writer = os.pipe()
    process = subprocess.Popen([sys.executable, "-m", "apptuit_like", "send", "--endpoint",
                                fake.endpoint, "--batch-size", "10"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=writer)
    os.close(writer)
    out, _ = process.communicate(lines.encode(), timeout=60)
    chunks = []
    while True:
        try:
            chunk = os.read(reader, 4096)
        except OSError:   # the pty's other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(reader)
    assert process.returncode == 0 and b"sent 60 points" in out
    return b"".join(chunks).decode()


def test_send_shows_progress_on_a_terminal(fake):
    shown = send_with_stderr_on(True, fake)
    assert re.search(r"\r\x1b\[Ksent \d+ points", shown)


def test_send_is_quiet_on_stderr_when_it_is_not_a_terminal(fake):
    assert send_with_stderr_on(False, fake) == ""


def test_demo_chart_axes_are_labelled_and_start_at_zero():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from apptuit_like import TimeSeries
    from apptuit_like._cli.demo import ORDERS, P99, chart
    from apptuit_like._query import Output
    output = Output("demo")
    for metric, tags, values in ((ORDERS, {"city": "BLR"}, [10, 20, 30]),
                                 (P99, {}, [0.2051, 0.2049, 0.2052])):   # 0.3 ms of noise
        output.series.append(TimeSeries(metric, tags, [100, 102, 104], values))
    figure = chart(output, plt)
    try:
        for axes in figure.axes:
            assert axes.get_ylabel() and axes.get_ylim()[0] == 0
        assert figure.axes[1].get_ylim()[1] >= 205   # the whole p99, not its noise
    finally:
        plt.close(figure)


def test_send_reports_a_line_that_is_not_utf8_and_sends_the_others(fake, tmp_path):
    source = tmp_path / "mixed.txt"
    source.write_bytes(b"put ok.metric 1795420000 1 k=v\n\xff\xfe garbage \x80\n"
                       b"put ok.metric 1795420001 2 k=v\n")
    done = subprocess.run([sys.executable, "-m", "apptuit_like", "send", "--endpoint",
                           fake.endpoint, str(source)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "mixed.txt" in done.stderr and "line 2" in done.stderr
    assert "not valid UTF-8" in done.stderr
    assert [p["value"] for p in fake.points()] == [1, 2]
