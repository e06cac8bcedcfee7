"""What importing and using the package does to the process: no fork hooks until
an object needs them, nothing of the garbage collector's, and the reporter works
where ``fcntl`` is missing (Windows), with multi-process mode saying it needs POSIX."""
import pathlib
import subprocess
import sys
import textwrap

PACKAGE = pathlib.Path(__file__).parent.parent / "apptuit_like"


def run(code, **env):
    import os
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=dict(os.environ, **env), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_without_fcntl_the_reporter_sends_and_a_group_says_it_needs_posix(vm, uid, tmp_path):
    out = run("""
        import os, sys
        sys.modules["fcntl"] = None   # as on Windows: `import fcntl` raises ImportError
        from apptuit_like import ApptuitException
        from apptuit_like.pyformance import ApptuitReporter, MetricsRegistry
        import apptuit_like.integrations.asgi, apptuit_like.integrations.wsgi
        registry = MetricsRegistry()
        registry.counter("orders").inc(2)
        ApptuitReporter(registry=registry, api_endpoint=os.environ["VM"],
                        tags={"test": os.environ["UID"]}).report_now()
        try:
            ApptuitReporter(registry=registry, api_endpoint=os.environ["VM"],
                            multiprocess_dir=os.environ["DIR"])
        except ApptuitException as err:
            print(err)
    """, VM=vm.put_endpoint, UID=uid, DIR=str(tmp_path / "group"))
    assert "multiprocess_dir needs a POSIX system" in out
    assert [points[-1][1] for points in
            vm.series('orders_count{test="%s"}' % uid).values()] == [2]


def test_importing_registers_no_fork_hook_and_the_first_object_that_needs_one_does(tmp_path):
    out = run("""
        import os, pkgutil, importlib
        calls = []
        register = os.register_at_fork
        def recording(**hooks):   # only ours: the standard library registers its own
            calls.extend(hook for hook in hooks.values()
                         if (getattr(hook, "__module__", None) or "").startswith("apptuit_like"))
            register(**hooks)
        os.register_at_fork = recording
        import apptuit_like, apptuit_like.pyformance, apptuit_like._cli.main
        for module in pkgutil.walk_packages(apptuit_like.__path__, "apptuit_like."):
            importlib.import_module(module.name)
        print(len(calls))
        from apptuit_like.pyformance._durable_buffer import DurableBuffer
        DurableBuffer(os.environ["DIR"], "opentsdb", 1 << 20)
        DurableBuffer(os.environ["DIR"], "opentsdb", 1 << 20)
        print(len(calls))
    """, DIR=str(tmp_path / "buffer"))
    assert out.split() == ["0", "3"]   # one registration: before, and after in either


def test_the_package_never_switches_the_garbage_collector():
    offenders = [str(path) for path in PACKAGE.rglob("*.py")
                 if any(call in path.read_text() for call in
                        ("gc.disable", "gc.enable", "gc.freeze", "gc.set_threshold"))]
    assert offenders == []


def test_no_http_is_written_by_hand():
    """Every request goes through requests: no sockets, http.client or ssl wrapping."""
    offenders = [str(path) for path in PACKAGE.rglob("*.py")
                 if any(use in path.read_text() for use in
                        ("http.client", "wrap_socket", "sendall(", ".recv("))]
    assert offenders == []
