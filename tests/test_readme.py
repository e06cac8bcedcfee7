"""The README's examples, run as written, so that they cannot rot.

Every ```python block runs, in order and in one interpreter, against a local
VictoriaMetrics that only APPTUIT_API_ENDPOINT and APPTUIT_QUERY_ENDPOINT point
at. Blocks marked ```python hosted use Apptuit QL, which only the hosted service
speaks: each runs on its own against the scripted Apptuit server. The
``apptuit-like send`` and ``query`` lines run through a shell, with the
README's ports 4242 and 8428 replaced by the test server's free ones.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest

from apptuit_like.testing import free_port
from servers import VM_MISSING, Reply

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", re.S | re.M)


def blocks(language, marker=""):
    """(line, code) of each block of ``language`` whose info string is ``marker``."""
    text = README.read_text()
    return [(text[:m.start()].count("\n") + 1, m.group(3)) for m in BLOCK.finditer(text)
            if m.group(1) == language and m.group(2).strip() == marker]


def environment(vm, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPTUIT_")}
    env.update(APPTUIT_API_ENDPOINT=vm.put_endpoint, APPTUIT_QUERY_ENDPOINT=vm.query_url,
               PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
               MPLBACKEND="Agg")
    env.update(extra)
    return env


def run_python(code, env, cwd):
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(cwd),
                          capture_output=True, text=True, timeout=120)
    return done


def test_the_readme_has_the_blocks_this_test_expects():
    assert len(blocks("python")) >= 15
    assert len(blocks("python", "hosted")) == 1
    assert len(cli_lines()) >= 3


def test_every_python_block_runs_in_order_against_victoria_metrics(vm, tmp_path):
    found = blocks("python")
    # each block is marked, so a failure names the README line it came from
    script = "\n".join("__readme_line__ = %d\n%s" % (line, code) for line, code in found)
    wrapper = ("import sys, traceback\ntry:\n    exec(compile(%r, 'README.md', 'exec'), {})\n"
               "except BaseException:\n    traceback.print_exc()\n    sys.exit(1)\n" % script)
    done = run_python(wrapper, environment(vm), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    stored = vm.series('{__name__=~"proc_cpu_percent|queue_depth|apptuit_reporter_.*"}')
    names = {name for name, _ in stored}   # the client's points and the reporter's own
    assert {"proc_cpu_percent", "queue_depth", "apptuit_reporter_send_total_count"} <= names


def test_hosted_only_blocks_run_against_the_scripted_apptuit(vm, fake, tmp_path):
    minute_ago = int(time.time()) - 60   # inside the block's last hour
    answer = {"outputs": [{"id": name, "result": [
        {"metric": metric, "tags": {"host": "web-1"}, "dps": [[minute_ago, 0.5]]}]}
        for name, metric in (("cpu", "proc.cpu.percent"), ("load", "node.load.avg"))]}
    for line, code in blocks("python", "hosted"):
        fake.script(Reply(200, answer))
        env = environment(vm, APPTUIT_API_ENDPOINT=fake.endpoint)
        done = run_python(code, env, tmp_path)
        assert done.returncode == 0, "README line %d:\n%s" % (line, done.stderr[-3000:])
        assert "proc.cpu.percent" in done.stdout and "0.5" in done.stdout


def test_the_readmes_own_victoria_metrics_command_serves_the_demo(tmp_path):
    """The block that starts a VictoriaMetrics of one's own, run as written (its
    ports made free ones), then the demo against it through the two variables."""
    (block,) = [code for _, code in blocks("sh") if code.startswith("victoria-metrics ")]
    if not shutil.which("victoria-metrics"):
        pytest.fail(VM_MISSING, pytrace=False)
    put, query = free_port(), free_port()
    script = ("trap 'kill %%1 2>/dev/null; wait' EXIT\n%s\n"
              "until (exec 3<>/dev/tcp/127.0.0.1/%d) 2>/dev/null; do sleep 0.1; done\n"
              "apptuit-like demo --duration 3 --interval 1 --no-plot\n" % (
                  block.replace("127.0.0.1:4242", "127.0.0.1:%d" % put)
                  .replace("127.0.0.1:8428", "127.0.0.1:%d" % query), put))
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPTUIT_")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    done = subprocess.run(["bash", "-c", script], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Reporting to http://127.0.0.1:%d" % put in done.stdout
    assert re.search(r'^order_count_count\{city="BLR"\}', done.stdout, re.M)
    assert "hides the newest" not in done.stdout   # visible at once, no 30 s wait
    assert (tmp_path / "vm-data").is_dir()


def cli_lines():
    """The shell lines of the README that run the command, continuations joined."""
    lines = []
    for _, code in blocks("sh"):
        for line in code.replace("\\\n", " ").splitlines():
            if "apptuit-like send" in line or "apptuit-like query" in line:
                lines.append(line)
    return lines


def test_cli_examples_run_as_written(vm, tmp_path):
    put = vm.put_endpoint.rsplit(":", 1)[1]
    query = vm.query_url.rsplit(":", 1)[1]
    (tmp_path / "points.jsonl").write_text(
        '{"metric": "orders.count", "timestamp": %d, "value": 3, "tags": {"city": "DEL"}}\n'
        % int(time.time()))
    (tmp_path / "more.json").write_text("[]")
    env = environment(vm)
    for line in cli_lines():
        command = line.replace("127.0.0.1:4242", "127.0.0.1:" + put).replace(
            "127.0.0.1:8428", "127.0.0.1:" + query)
        done = subprocess.run(["bash", "-c", "set -o pipefail; " + command], env=env,
                              cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, "%s\n%s" % (command, done.stderr[-2000:])
        vm.flush()   # what was sent is visible to the next line's query
    assert {"BLR", "DEL"} <= {dict(tags).get("city") for _, tags in
                              vm.series('{__name__="orders_count"}')}
    assert (tmp_path / "orders.csv").read_text().startswith("timestamp,time_utc")


@pytest.mark.parametrize("claim", ["11-15x cheaper", "**2.7x\n  cheaper**", "(2.0-2.1x one",
                                   "365,000-372,000 points/s", "14.8-15.2x cheaper",
                                   "2.72-2.73x", "1.83-1.94 µs"])
def test_performance_claims_state_where_they_were_measured(claim):
    text = README.read_text()
    at = text.index(claim)
    window = text[max(0, at - 600):at + 600]
    assert "2-core" in window or "RESULTS.md" in window
    assert "three" in window   # a figure is a range three consecutive runs fall in


def test_the_http_path_figures_are_the_kept_runs():
    """The README's cost of a small report, before and after the move to requests,
    is the range of the medians in the runs kept under benchmarks/results/."""
    kept = json.loads((README.parent / "benchmarks" / "results" /
                       "2026-12-06-small-report-http-path.json").read_text())
    text = README.read_text()
    for name, runs in kept["runs"].items():
        medians = [run["median_ms"] for run in runs]
        assert len(medians) == 3
        quoted = "%.2f-%.2f ms" % (min(medians), max(medians))
        assert quoted in text, (name, quoted)


def test_the_query_figures_are_the_kept_runs():
    kept = json.loads((README.parent / "benchmarks" / "results" /
                       "2026-12-06-query-df.json").read_text())["runs"]
    assert len(kept) == 3
    ours = [run["results"]["apptuit_like"] for run in kept]
    text = README.read_text()
    frames = sorted(row["to_df"] for row in ours)
    parses = sorted(row["parse"] for row in ours)
    assert "%.3f-%.3f s / %.2f-%.2f s" % (frames[0], frames[-1], parses[0], parses[-1]) in text
