"""The benchmark command's bookkeeping, and the verdicts it computes. The
measurements live in benchmarks/; the suite runs only the soak's steady phase,
with and without an injected leak, to show the phase catches one."""
import os
import subprocess

import pytest

from benchmarks.__main__ import LOCAL_RESULTS, RESULTS, results_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_runs_write_an_untracked_file_unless_asked_to_update_the_committed_one():
    assert results_path(update=False) == LOCAL_RESULTS
    assert results_path(update=True) == RESULTS
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
