"""Helpers for tests, ours and users': a throwaway VictoriaMetrics and a capture.

``LocalVictoriaMetrics`` runs the real TSDB on loopback with free ports and a
temporary data directory (removed on stop); puts go to its OpenTSDB port and
queries to its HTTP port::

    with LocalVictoriaMetrics() as vm:
        client = Apptuit(api_endpoint=vm.put_endpoint, query_endpoint=vm.query_url)

``CaptureReporter`` is an ``ApptuitReporter`` that records its points instead of
sending them, for unit tests with no server at all::

    reporter = CaptureReporter(registry)
    handle_order(city="BLR")
    reporter.report_now()
    assert reporter.value("order_count_count", city="BLR") == 1
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import requests

from .pyformance._reporter import ApptuitReporter
from ._transport import Outcome as _Outcome

__all__ = ["LocalVictoriaMetrics", "CaptureReporter", "VictoriaMetricsMissing", "free_port",
           "INSTALL_HINT"]

BINARY = "victoria-metrics"
INSTALL_HINT = ("VictoriaMetrics is not installed: the '%s' binary is not on PATH. On Debian "
                "or Ubuntu install it with `apt-get update && apt-get install -y "
                "victoria-metrics`, or download a release from "
                "https://github.com/VictoriaMetrics/VictoriaMetrics/releases." % BINARY)


class VictoriaMetricsMissing(FileNotFoundError):
    """The victoria-metrics binary is not on PATH."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _end_process(process: "subprocess.Popen[bytes]", grace: float) -> None:
    """Terminate ``process`` if it still runs; kill it after ``grace`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class LocalVictoriaMetrics:
    """Starts ``victoria-metrics`` on loopback; ``stop()`` ends it and cleans up.

    ``data_dir`` defaults to a fresh temporary directory, which ``stop()``
    removes; ``extra_args`` go to the server's command line. Raises
    :class:`VictoriaMetricsMissing` when the binary is absent.
    """

    def __init__(self, data_dir: Optional[str] = None, start_timeout: float = 30.0,
                 extra_args: Sequence[str] = ()) -> None:
        binary = shutil.which(BINARY)
        if binary is None:
            raise VictoriaMetricsMissing(INSTALL_HINT)
        self._own_dir = data_dir is None
        self.data_dir = tempfile.mkdtemp(prefix="apptuit-like-vm-") if data_dir is None \
            else data_dir
        self.query_port, self.put_port = free_port(), free_port()
        self.log_path = os.path.join(self.data_dir, "victoria-metrics.log")
        self._log = open(self.log_path, "wb")
        self._command = [binary, "-storageDataPath=" + os.path.join(self.data_dir, "data"),
                         "-httpListenAddr=127.0.0.1:%d" % self.query_port,
                         "-opentsdbHTTPListenAddr=127.0.0.1:%d" % self.put_port,
                         "-search.latencyOffset=0s", "-loggerLevel=ERROR"] + list(extra_args)
        self._start_timeout = start_timeout
        self._start()

    def _start(self) -> None:
        self.process = subprocess.Popen(self._command, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        try:
            self._wait_until(lambda: requests.get(self.query_url + "/health", timeout=1).ok,
                             "its /health answer", self._start_timeout)
            self._wait_until(self._put_port_open, "its OpenTSDB port", self._start_timeout)
        except BaseException:
            self.stop()
            raise

    def persist(self) -> None:
        """Write every point received so far to disk, as a snapshot does (a crash
        otherwise loses the last seconds); the snapshot itself is deleted."""
        answer = requests.get(self.query_url + "/snapshot/create", timeout=60)
        answer.raise_for_status()
        name = answer.json().get("snapshot")
        if name:
            requests.get(self.query_url + "/snapshot/delete", params={"snapshot": name},
                         timeout=60).raise_for_status()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; ``start_again()`` brings it back."""
        self.process.kill()
        self.process.wait()

    def start_again(self) -> None:
        """Start the server again on the same data directory and ports."""
        self._start()

    def __enter__(self) -> "LocalVictoriaMetrics":
        return self

    def _put_port_open(self) -> bool:
        socket.create_connection(("127.0.0.1", self.put_port), 1).close()
        return True

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return "LocalVictoriaMetrics(put=%s, query=%s)" % (self.put_endpoint, self.query_url)

    @property
    def put_endpoint(self) -> str:
        """The ``api_endpoint`` for sends (OpenTSDB HTTP port)."""
        return "http://127.0.0.1:%d" % self.put_port

    @property
    def query_url(self) -> str:
        """The ``query_endpoint`` for PromQL (HTTP port)."""
        return "http://127.0.0.1:%d" % self.query_port

    def flush(self) -> None:
        """Make every point received so far searchable at once (VictoriaMetrics'
        ``/internal/force_flush``). A read-back through ``/api/v1/export`` still
        needs an ``end`` later than the points: its default end is the current
        whole second, which leaves out a point stamped in milliseconds within it.
        :meth:`export` passes one."""
        requests.get(self.query_url + "/internal/force_flush", timeout=10).raise_for_status()

    def export(self, selector: str) -> List[Dict[str, Any]]:
        """Every stored series matching a PromQL selector, after a :meth:`flush`:
        ``{"metric": {"__name__": ..., labels}, "values": [...], "timestamps":
        [ms, ...]}`` each, points up to a minute ahead of the clock included::

            with LocalVictoriaMetrics() as vm:
                ...   # a reporter sends to vm.put_endpoint
                vm.export('order_count_count{city="BLR"}')[0]["values"]   # [1.0]
        """
        self.flush()
        params: Dict[str, str] = {"match[]": selector, "end": str(int(time.time()) + 60)}
        answer = requests.get(self.query_url + "/api/v1/export", timeout=30, params=params)
        answer.raise_for_status()
        return [json.loads(line) for line in answer.text.split("\n") if line]

    def stop(self) -> None:
        """Terminate the server and remove its data directory if it made it."""
        _end_process(self.process, 10)
        self._log.close()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _wait_until(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("victoria-metrics exited with status %s before %s; "
                                   "its log: %s" % (self.process.returncode, what,
                                                    self._log_tail()))
            try:
                if ready():
                    return
            except (OSError, requests.RequestException):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("victoria-metrics did not show %s within %.0fs; its log: %s"
                                   % (what, timeout, self._log_tail()))
            time.sleep(0.05)

    def _log_tail(self) -> str:
        self._log.flush()
        with open(self.log_path, "rb") as log:
            return log.read()[-2000:].decode("utf-8", "replace").strip() or "(empty)"


class _Recorder:
    """Stands in for the HTTP transport: keeps every point, answers success."""

    def __init__(self, points: List[Dict[str, Any]]) -> None:
        self.points = points

    def post(self, points: Sequence[str], *args: Any, **kwargs: Any) -> List[_Outcome]:
        self.points.extend(json.loads(point) for point in points)
        return [_Outcome("ok", points, 204, len(points), 0)]

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


_NO_DEFAULT: Any = object()


class CaptureReporter(ApptuitReporter):
    """An ``ApptuitReporter`` whose points are recorded in ``points`` rather than
    sent: the same names, tags and values, no network. Options are the
    reporter's; no host tag is added unless asked for.

    >>> from pyformance import MetricsRegistry
    >>> from apptuit_like.timeseries import encode_metric
    >>> registry = MetricsRegistry()
    >>> reporter = CaptureReporter(registry, tags={"service": "shop"})
    >>> registry.counter(encode_metric("order_count", {"city": "BLR"})).inc()
    >>> reporter.report_now()
    >>> reporter.value("order_count_count", city="BLR")
    1
    >>> reporter.value("order_count_count", city="DEL", default=0)
    0
    """

    def __init__(self, registry: Any = None, **options: Any) -> None:
        options.setdefault("api_endpoint", "http://capture.invalid")   # never contacted
        options.setdefault("disable_host_tag", True)
        super().__init__(registry=registry, **options)
        self.points: List[Dict[str, Any]] = []
        self.client.transport = _Recorder(self.points)   # type: ignore[assignment]

    def value(self, metric: str, default: Any = _NO_DEFAULT, **tags: str) -> Any:
        """The latest value of the one series named ``metric`` whose tags include
        ``tags``; ``default`` when there is none (else KeyError listing the series
        there are), ValueError when several match."""
        latest: Dict[Tuple[Any, ...], Any] = {}
        for point in self.points:
            if point["metric"] == metric and all(point["tags"].get(k) == str(v)
                                                 for k, v in tags.items()):
                latest[tuple(sorted(point["tags"].items()))] = point["value"]
        if len(latest) == 1:
            return next(iter(latest.values()))
        if latest:
            raise ValueError("%d series of %s match %s; name more tags: %s"
                             % (len(latest), metric, tags, sorted(latest)))
        if default is not _NO_DEFAULT:
            return default
        raise KeyError("no series %s%s among: %s" % (metric, tags or "", ", ".join(
            sorted({p["metric"] for p in self.points})) or "nothing reported yet"))

    def clear(self) -> None:
        """Forget the points recorded so far."""
        del self.points[:]
