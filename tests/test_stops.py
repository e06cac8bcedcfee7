"""A plain script with a started reporter (interval 60 s), stopped by a signal
within its first interval: every count must be stored, and the process must end
as the signal would have ended it. Read back from a real VictoriaMetrics."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from servers import UnansweredPort

SCRIPT = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry
    from apptuit_like.pyformance.stop_signals import install_signal_handlers

    options = json.loads(os.environ["TEST_OPTIONS"])
    own = options.pop("own_handler", False)
    in_thread = options.pop("start_in_thread", False)
    if own:   # the application's own handler, there before the reporter starts
        def on_term(signum, frame):
            print("own handler", signum, flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, on_term)
    registry = MetricsRegistry()
    reporter = ApptuitReporter(registry=registry, reporting_interval=60,
                               tags={"test": os.environ["TEST_UID"]}, **options)
    if in_thread:
        starter = threading.Thread(target=reporter.start)
        starter.start()
        starter.join()
        print("installed", install_signal_handlers(), flush=True)
    else:
        reporter.start()
    registry.counter("orders").inc(5)
    print("ready", flush=True)
    time.sleep(120)
""")


def run_until_ready(vm, uid, tmp_path, env=None, wrapper=(), **options):
    (tmp_path / "script.py").write_text(SCRIPT)
    env = dict(os.environ, TEST_UID=uid, TEST_OPTIONS=json.dumps(options), **(env or {}))
    env.setdefault("APPTUIT_API_ENDPOINT", vm.put_endpoint)
    process = subprocess.Popen([*wrapper, sys.executable, str(tmp_path / "script.py")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    while not lines or lines[-1] != "ready":
        line = process.stdout.readline()
        if not line:
            pytest.fail("the script ended early: %s" % process.communicate()[1][-2000:])
        lines.append(line.strip())
    return process, lines


def stop(process, sig, limit=30):
    process.send_signal(sig)
    out, err = process.communicate(timeout=limit)
    return process.returncode, out, err


def stored(vm, uid):
    return [points[-1][1] for points in vm.series('orders_count{test="%s"}' % uid).values()]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_within_the_first_interval_keeps_every_count(vm, uid, tmp_path, sig):
    process, _ = run_until_ready(vm, uid, tmp_path)
    status, _, err = stop(process, sig)
    assert status == -sig, err    # ended by the signal, as without a reporter
    assert stored(vm, uid) == [5]


def test_the_applications_own_handler_still_runs_and_sets_the_exit_status(vm, uid, tmp_path):
    process, _ = run_until_ready(vm, uid, tmp_path, own_handler=True)
    status, out, err = stop(process, signal.SIGTERM)
    assert (status, out.strip()) == (3, "own handler %d" % signal.SIGTERM), err
    assert stored(vm, uid) == [5]


def test_a_reporter_started_off_the_main_thread_is_covered_once_installed(vm, uid,
                                                                          tmp_path):
    process, lines = run_until_ready(vm, uid, tmp_path, start_in_thread=True)
    assert lines[0] == "installed True"
    status, _, err = stop(process, signal.SIGTERM)
    assert status == -signal.SIGTERM, err
    assert stored(vm, uid) == [5]


UNSHARE = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]


def test_as_pid_1_of_a_pid_namespace_as_in_a_container(vm, uid, tmp_path):
    """The kernel ignores a default action sent to a namespace's PID 1 (Docker's
    stop would wait 10 s, then SIGKILL): the handler reports and exits 143."""
    tried = subprocess.run(UNSHARE + ["true"], capture_output=True, text=True)
    if tried.returncode != 0:   # an untested stop path must not pass for a tested one
        pytest.fail("this test needs a PID namespace: run the suite as root on a machine "
                    "with util-linux's unshare (%s)" % tried.stderr.strip())
    outer, _ = run_until_ready(vm, uid, tmp_path, wrapper=UNSHARE)
    with open("/proc/%d/task/%d/children" % (outer.pid, outer.pid)) as children:
        pid_1, = [int(pid) for pid in children.read().split()]
    os.kill(pid_1, signal.SIGTERM)
    _, err = outer.communicate(timeout=30)
    assert outer.returncode == 128 + signal.SIGTERM, err
    assert stored(vm, uid) == [5]


@pytest.mark.parametrize("how", [{"handle_signals": False},
                                 {"env": {"APPTUIT_HANDLE_SIGNALS": "off"}}],
                         ids=["argument", "environment"])
def test_signal_handling_can_be_switched_off(vm, uid, tmp_path, how):
    process, _ = run_until_ready(vm, uid, tmp_path, **how)
    status, _, err = stop(process, signal.SIGTERM)
    assert status == -signal.SIGTERM, err
    assert stored(vm, uid) == []   # SIGTERM's default action: no atexit, no report


def test_a_hanging_backend_holds_the_stop_no_longer_than_the_bound_and_the_disk_keeps_it(
        vm, uid, tmp_path):
    hanging = UnansweredPort()
    try:
        process, _ = run_until_ready(vm, uid, tmp_path, shutdown_timeout=1.0,
                                     buffer_dir=str(tmp_path / "buffer"),
                                     env={"APPTUIT_API_ENDPOINT": hanging.endpoint})
        began = time.monotonic()
        status, _, err = stop(process, signal.SIGTERM)
        took = time.monotonic() - began
    finally:
        hanging.stop()
    assert status == -signal.SIGTERM, err
    assert took < 2.0 + 3.0, took   # the bound and its second, with room for a slow machine
    assert stored(vm, uid) == []
    # the next run of the service, now with a backend that answers, sends the kept points
    from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry
    reporter = ApptuitReporter(registry=MetricsRegistry(), api_endpoint=vm.put_endpoint,
                               buffer_dir=str(tmp_path / "buffer"), tags={"test": uid})
    reporter.report_now()
    assert stored(vm, uid) == [5]


@pytest.fixture
def handlers():
    """The signal handlers as they were, and ours uninstalled, after the test."""
    from apptuit_like.pyformance import stop_signals
    stop_signals.uninstall_signal_handlers()   # an earlier test's reporter installed them
    saved = {signum: signal.getsignal(signum) for signum in stop_signals.STOP_SIGNALS}
    yield stop_signals
    stop_signals.uninstall_signal_handlers()
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_install_chains_uninstall_restores_and_an_ignored_signal_stays_ignored(handlers):
    seen = []
    signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    assert handlers.install_signal_handlers()
    assert handlers.install_signal_handlers()             # a second call adds nothing
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    signal.raise_signal(signal.SIGTERM)
    assert seen == [signal.SIGTERM]                       # the process's own, once
    handlers.uninstall_signal_handlers()
    assert signal.getsignal(signal.SIGTERM) is not handlers._on_signal
    signal.raise_signal(signal.SIGTERM)
    assert seen == [signal.SIGTERM] * 2


def test_a_handler_put_over_ours_and_chaining_to_it_does_not_loop(handlers):
    seen = []
    signal.signal(signal.SIGTERM, lambda signum, frame: seen.append("first"))
    handlers.install_signal_handlers()
    ours = signal.getsignal(signal.SIGTERM)

    def later(signum, frame):   # an application's handler installed after ours
        seen.append("later")
        ours(signum, frame)
    signal.signal(signal.SIGTERM, later)
    handlers.install_signal_handlers()   # another reporter starts: nothing is wrapped again
    signal.raise_signal(signal.SIGTERM)
    assert seen == ["later", "first"]


def test_off_the_main_thread_nothing_is_installed(handlers):
    import threading
    found = []
    thread = threading.Thread(target=lambda: found.append(handlers.install_signal_handlers()))
    thread.start()
    thread.join()
    assert found == [False]
    assert signal.getsignal(signal.SIGTERM) is not handlers._on_signal
