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
