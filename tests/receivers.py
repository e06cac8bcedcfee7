"""Real Prometheus and InfluxDB receivers for the wire tests, on loopback with free
ports and temporary data directories (Debian packages `prometheus`, `influxdb`)."""
import os
import shutil
import subprocess
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import requests

from apptuit_like.testing import _end_process as end_process, free_port

INSTALL = ("The {what} binary `{binary}` is not installed: `apt-get install -y {package}` "
           "(Debian), or run the README's test command, `bash tests/run.sh`, which "
           "installs it.")


class ReceiverMissing(FileNotFoundError):
    pass


class LocalReceiver:
    """A server process of its own: ``stop()`` ends it and removes its directory;
    ``kill()`` and ``start_again()`` play a crash and a restart on the same data."""

    what = binary = package = ""
    ready_path = "/"

    def __init__(self) -> None:
        path = shutil.which(self.binary)
        if path is None:
            raise ReceiverMissing(INSTALL.format(what=self.what, binary=self.binary,
                                                 package=self.package))
        self.data_dir = tempfile.mkdtemp(prefix="apptuit-like-%s-" % self.package)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self._log = open(os.path.join(self.data_dir, "server.log"), "wb")
        self._command = [path] + self.arguments()
        self.process: Optional[subprocess.Popen] = None
        self._start()

    def arguments(self) -> List[str]:
        raise NotImplementedError

    def _start(self, timeout: float = 60.0) -> None:
        self.process = subprocess.Popen(self._command, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(self.url + self.ready_path, timeout=1).status_code < 300:
                    return
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                with open(os.path.join(self.data_dir, "server.log"), "rb") as log:
                    raise RuntimeError("%s did not start: %s" % (self.what, log.read()[-2000:]))
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def start_again(self) -> None:
        self._start()

    def stop(self) -> None:
        if self.process is not None:
            end_process(self.process, 30)
        self._log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class LocalPrometheus(LocalReceiver):
    """Prometheus with its remote-write receiver on; PromQL on the same port."""

    what, binary, package = "Prometheus", "prometheus", "prometheus"
    ready_path = "/-/ready"

    def arguments(self) -> List[str]:
        config = os.path.join(self.data_dir, "prometheus.yml")
        with open(config, "w") as out:
            out.write("global: {}\n")
        return ["--config.file=" + config, "--storage.tsdb.path=" + self.data_dir + "/tsdb",
                "--web.listen-address=127.0.0.1:%d" % self.port,
                "--web.enable-remote-write-receiver", "--log.level=warn"]

    @property
    def write_url(self) -> str:
        return self.url + "/api/v1/write"

    def series(self, selector: str) -> Dict[Tuple[str, tuple], List[Tuple[int, float]]]:
        """{(name, sorted label items): [(ms, value), ...]} of every sample stored in
        the last hour for a selector (a range query over raw samples)."""
        answer = requests.get(self.url + "/api/v1/query", timeout=30, params={
            "query": "%s[1h]" % selector, "time": "%.3f" % (time.time() + 60)})
        answer.raise_for_status()
        out = {}
        for row in answer.json()["data"]["result"]:
            labels = dict(row["metric"])
            name = labels.pop("__name__")
            out[(name, tuple(sorted(labels.items())))] = [
                (int(round(float(t) * 1000)), float(v)) for t, v in row["values"]]
        return out


class LocalInfluxDB(LocalReceiver):
    """InfluxDB 1.x (``influxd``) with a generated config; InfluxQL on ``/query``."""

    what, binary, package = "InfluxDB", "influxd", "influxdb"
    ready_path = "/ping"
    database = "metrics"

    def arguments(self) -> List[str]:
        config = os.path.join(self.data_dir, "influxdb.conf")
        with open(config, "w") as out:
            out.write('reporting-disabled = true\nbind-address = "127.0.0.1:%d"\n'
                      '[meta]\n  dir = "%s/meta"\n'
                      '[data]\n  dir = "%s/data"\n  wal-dir = "%s/wal"\n'
                      '  query-log-enabled = false\n'
                      '[http]\n  bind-address = "127.0.0.1:%d"\n  log-enabled = false\n'
                      '[monitor]\n  store-enabled = false\n'
                      % (free_port(), self.data_dir, self.data_dir, self.data_dir, self.port))
        return ["-config", config]

    def _start(self, timeout: float = 60.0) -> None:
        super()._start(timeout)
        self.query("CREATE DATABASE %s" % self.database, method="post")

    def query(self, text: str, method: str = "get") -> List[dict]:
        """The series of an InfluxQL query's first result (stamps in ms)."""
        answer = requests.request(method, self.url + "/query", timeout=30, params={
            "db": self.database, "q": text, "epoch": "ms"})
        answer.raise_for_status()
        result = answer.json()["results"][0]
        if "error" in result:
            raise AssertionError(result["error"])
        return result.get("series", [])

    def rows(self, measurement: str, where: str = "") -> List[Dict[str, object]]:
        """Every stored row of a measurement, as {column: value}, oldest first."""
        out = []
        for series in self.query('SELECT * FROM "%s" %s' % (measurement, where)):
            for values in series["values"]:
                out.append(dict(zip(series["columns"], values)))
        return out


def start(cls: type) -> LocalReceiver:
    """A started receiver, or the test fails (never skips) saying how to install it."""
    import pytest   # pylint: disable=import-outside-toplevel
    try:
        return cls()
    except ReceiverMissing as err:
        pytest.fail(str(err), pytrace=False)
    raise AssertionError("unreachable")
