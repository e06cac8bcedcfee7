"""The examples of README.md and of every page of docs/, run as written, so that
they cannot rot.

Each page's ```python blocks run, in order and in one interpreter, against a local
VictoriaMetrics of their own that only APPTUIT_API_ENDPOINT and
APPTUIT_QUERY_ENDPOINT point at. Pages whose examples need more (other receivers,
a mode in the environment, answers to check) are run by tests of their own in
tests/test_docs.py with the same ``run_blocks``; a test checks that every page with
a block is run somewhere. Blocks marked ```python hosted use Apptuit QL, which only
the hosted service speaks: each runs on its own against the scripted Apptuit
server. The ``apptuit-like send`` and ``query`` lines run through a shell, with the
docs' ports 4242 and 8428 replaced by the test server's free ones.
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
from conftest import start_own_vm
from servers import VM_MISSING, Reply

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README] + sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", re.S | re.M)
# pages run by tests/test_docs.py: they need Prometheus and InfluxDB, or a bucket
# mode in the environment, or check the answers of their PromQL
RUN_ELSEWHERE = {"backends.md", "integrations.md", "distributions.md"}
# series each page's blocks must leave in VictoriaMetrics
STORED = {"README.md": {"order_count_count", "checkout_count"},
          "client.md": {"proc_cpu_percent", "queue_depth"},   # the client's own points
          "reporter.md": {"apptuit_reporter_send_total_count", "logins_count",
                          "python_process_cpu_percent"},
          "testing.md": set(), "multiprocess.md": set()}


def blocks(language, marker="", page=None):
    """(line, code) of each block of ``language`` whose info string is ``marker``, in
    ``page`` (default: README.md)."""
    text = (page or README).read_text()
    return [(text[:m.start()].count("\n") + 1, m.group(3)) for m in BLOCK.finditer(text)
            if m.group(1) == language and m.group(2).strip() == marker]


def every_page_text():
    return {page.name: page.read_text() for page in PAGES}


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


def run_blocks(page, env, cwd, transform=lambda code: code):
    """Run the page's ```python blocks in order in one interpreter; a failure names
    the page and line it came from."""
    found = blocks("python", page=page)
    script = "\n".join("__doc_line__ = %d\n%s" % (line, transform(code)) for line, code in found)
    wrapper = ("import sys, traceback\ntry:\n    exec(compile(%r, %r, 'exec'), {})\n"
               "except BaseException:\n    traceback.print_exc()\n    sys.exit(1)\n"
               % (script, page.name))
    return run_python(wrapper, env, cwd)


def test_every_page_with_examples_is_run():
    with_blocks = {page.name for page in PAGES if blocks("python", page=page)}
    assert with_blocks == set(STORED) | RUN_ELSEWHERE
    assert len(blocks("python")) == 2   # the quick start and the migration line


@pytest.mark.parametrize("name", sorted(STORED))
def test_every_python_block_of_a_page_runs_in_order_against_victoria_metrics(name, tmp_path):
    page = next(p for p in PAGES if p.name == name)
    vm = start_own_vm()
    try:
        done = run_blocks(page, environment(vm), tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        names = {series for series, _ in vm.series('{__name__=~".+"}')}
        assert STORED[name] <= names, names
    finally:
        vm.stop()


def test_hosted_only_blocks_run_against_the_scripted_apptuit(vm, fake, tmp_path):
    minute_ago = int(time.time()) - 60   # inside the block's last hour
    answer = {"outputs": [{"id": name, "result": [
        {"metric": metric, "tags": {"host": "web-1"}, "dps": [[minute_ago, 0.5]]}]}
        for name, metric in (("cpu", "proc.cpu.percent"), ("load", "node.load.avg"))]}
    hosted = [(page, line, code) for page in PAGES
              for line, code in blocks("python", "hosted", page)]
    assert len(hosted) == 1
    for page, line, code in hosted:
        fake.script(Reply(200, answer))
        env = environment(vm, APPTUIT_API_ENDPOINT=fake.endpoint)
        done = run_python(code, env, tmp_path)
        assert done.returncode == 0, "%s line %d:\n%s" % (page.name, line,
                                                          done.stderr[-3000:])
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
    """The shell lines of every page that run the command, continuations joined."""
    lines = []
    for _, code in [found for page in PAGES if page.name not in RUN_ELSEWHERE
                    for found in blocks("sh", page=page)]:
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


def test_every_benchmark_figure_is_what_the_kept_runs_give():
    """README's headline, docs/performance.md's tables and benchmarks/RESULTS.md are
    generated from the kept full runs: regenerating them changes nothing."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.figures", "--check"],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_http_path_figures_are_the_kept_runs():
    """The README's cost of a small report, before and after the move to requests,
    is the range of the medians in the runs kept under benchmarks/results/."""
    kept = json.loads((README.parent / "benchmarks" / "results" /
                       "2026-12-06-small-report-http-path.json").read_text())
    text = "\n".join(every_page_text().values())
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
    text = " ".join("\n".join(every_page_text().values()).split())
    frames = sorted(row["to_df"] for row in ours)
    parses = sorted(row["parse"] for row in ours)
    assert "%.3f-%.3f s / %.2f-%.2f s" % (frames[0], frames[-1], parses[0], parses[-1]) in text


def _anchors(text):
    """GitHub's anchors of a page's headings (outside code blocks)."""
    out, fence = set(), False
    for line in text.split("\n"):
        if line.startswith("```"):
            fence = not fence
        elif not fence and line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", heading).replace(" ", "-"))
    return out


def test_every_link_between_the_pages_resolves():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue   # an outside address
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append((page.name, target))
            elif anchor and anchor not in _anchors(resolved.read_text()):
                broken.append((page.name, target))
    assert not broken


def test_the_readme_is_a_short_page():
    assert len(README.read_text().splitlines()) <= 250
    first_screen = "\n".join(README.read_text().splitlines()[:50])
    assert "reporter.start()" in first_screen and "victoria-metrics" in first_screen
