"""The benchmark command's bookkeeping, and the verdicts it computes. The
measurements live in benchmarks/; the suite runs only the soak's steady phase,
with and without an injected leak, to show the phase catches one."""
import os
import subprocess

import pytest

from benchmarks import figures
from benchmarks.__main__ import LOCAL_RESULTS, RESULTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_runs_write_an_untracked_file_and_the_committed_one_is_generated():
    assert figures.RESULTS == RESULTS
    ignored = subprocess.run(["git", "check-ignore", "-q", LOCAL_RESULTS], cwd=ROOT)
    assert ignored.returncode == 0, "RESULTS.local.md must not show up in git status"
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", RESULTS], cwd=ROOT,
                             capture_output=True)
    assert tracked.returncode == 0


def test_the_reliability_verdict_is_computed_from_the_counts():
    from benchmarks.reliability import loss_verdict
    whole = {"counters": 4, "counter_total": 100, "stored_total": 100, "counters_differing": 0}
    assert "Lost within the buffer: nothing" in loss_verdict(whole)
    short = dict(whole, stored_total=97, counters_differing=1)
    assert "Lost within the buffer: 3 increments" in loss_verdict(short)
    assert "nothing" not in loss_verdict(short)


@pytest.mark.slow   # about 14 s: 2,600 traced report cycles
def test_the_steady_soak_phase_catches_a_leak_of_one_object_per_cycle():
    from benchmarks import soak
    kept = []
    clean = soak.steady(cycles=100)
    leaking = soak.steady(cycles=100, after_cycle=lambda: kept.append(object()))
    assert soak.steady_verdict(clean).startswith("ok"), clean
    assert soak.steady_verdict(leaking).startswith("FAIL"), leaking
    assert 0.9 <= leaking["blocks_per_cycle"] - clean["blocks_per_cycle"] <= 1.5


def test_a_figure_changed_by_hand_is_caught(tmp_path, monkeypatch):
    """--check compares every generated file with what the kept runs give."""
    assert figures.main(["--check"]) == 0
    with open(figures.README) as source:
        readme = source.read()
    start = readme.index(figures.BEGIN)
    changed = readme[:start] + readme[start:].replace("x cheaper", "1x cheaper", 1)
    assert changed != readme
    copy = tmp_path / "README.md"
    copy.write_text(changed)
    monkeypatch.setattr(figures, "README", str(copy))
    assert figures.main(["--check"]) == 1
    assert copy.read_text() == changed   # --check writes nothing


def test_cells_are_ranged_number_by_number():
    assert figures.ranged(["0.84 / 1.38 (210 bytes)", "0.90 / 1.38 (212 bytes)"]) == \
        "0.84-0.90 / 1.38 (210-212 bytes)"
    assert figures.ranged(["met", "**missed**"]) == "met / **missed**"


def _run(rows, peer_rows):
    return {"steps": [{"rows": rows}], "peers": {"rows": peer_rows},
            "environment": {"cpus": 2}}


def test_the_headline_takes_the_cycle_rows_and_no_other():
    """The cardinality guard's "report cycle, 100k series over 10 metric names" row
    (1.00x) once passed for a cycle against apptuit-py."""
    rows = [["report cycle, 10k series (22740 points), CPU us/point", "0.8", "9.5", "0.7",
             "11.5x cheaper", None],
            ["report cycle, 100k series (227274 points), CPU us/point", "0.9", "12.1", "0.8",
             "14.6x cheaper", None],
            ["report cycle, 100k series over 10 metric names: cap 2,000 / no cap", "1.0",
             "", "", "1.00x", None]]
    peer_rows = [["report cycle, 10k counters, CPU us/series"] + ["1"] * 6 + ["n/a",
                                                                             "10.5x vs x"],
                 ["report cycle, 100k counters, CPU us/series"] + ["1"] * 6 + ["n/a",
                                                                              "12.9x vs x"],
                 ["tagged counter, 1 thread, CPU us/update"] + ["1"] * 7 + ["2.60x vs x"],
                 [figures._HELD + ", MB", "69 (68-70)", "152 (150-153)", "114 (113-114)",
                  "260 (259-261)", "80 (80-81)", "70 (70-71)", "n/a",
                  "1.01x less than datadogpy"]]
    line = figures.headline([_run(rows, peer_rows)] * 3)
    assert "**11.5-14.6x cheaper**" in line, line
    assert "10.5-12.9x cheaper than the best" in line and "update 2.60x cheaper" in line
    assert "3 full benchmark runs on a shared 2-core machine" in line
    # the peers with a cycle figure are named, statsd (n/a) is not
    assert ("export, wavefront-pyformance's report and datadogpy's aggregated flush;"
            in line), line
    assert "adds 69 MB of peak RSS, the least of the 6 libraries measured in every run" \
        in line, line


def test_the_memory_claim_says_so_when_a_peer_holds_less():
    held = [figures._HELD + ", MB", "85 (84-86)", "152 (150-153)", "114 (113-114)",
            "260 (259-261)", "80 (80-81)", "n/a", "n/a", "1.06x more than wavefront-pyformance"]
    line = figures._memory_claim([_run([], [held])] * 3)
    assert line.endswith("adds 85 MB of peak RSS, against 80 MB for the best peer "
                         "(wavefront-pyformance)"), line


def test_the_wires_row_counts_the_bodies_each_wire_sends():
    """Bytes per point come from the bodies the HTTP session is given, whether a
    batch was packed as it filled or rendered by the wire (it read 0 once, when
    it counted only the wire's own bodies)."""
    import gzip
    from benchmarks import report_cycle, wires
    from benchmarks.null_sink import NullSink
    registry = report_cycle.build_registry(90, 10)
    with NullSink() as endpoint:
        for wire in wires.WIRES:
            reporter = wires.reporter(registry, endpoint, wire)
            sent = wires.body_bytes(reporter)
            assert sent > 100, (wire, sent)
        reporter = wires.reporter(registry, endpoint, "opentsdb")
        bodies = []
        post = reporter.client.transport.session.post
        reporter.client.transport.session.post = lambda url, data, **kw: (
            bodies.append(data), post(url, data=data, **kw))[1]
        counted = wires.body_bytes(reporter)   # its counter posts through the recorder
        assert bodies and counted == sum(map(len, bodies))
        assert all(gzip.decompress(body).startswith(b"[{") for body in bodies)
