"""The benchmark command's bookkeeping (the measurements themselves live in
benchmarks/ and never run in the test suite)."""
import os
import subprocess

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
