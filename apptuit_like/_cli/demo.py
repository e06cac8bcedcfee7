"""``apptuit-like demo``: an instrumented order service reporting to a real TSDB.

Unless ``APPTUIT_API_TOKEN`` or ``APPTUIT_API_ENDPOINT`` names a backend, a local
VictoriaMetrics is started on loopback (free ports, temporary data, removed on
exit). Worker threads handle fake orders while an ``ApptuitReporter`` reports
every two seconds, process metrics included. At the end everything the run
reported is queried back with PromQL, shown as a table and drawn as a chart.
"""
import os
import queue
import random
import sys
import threading
import time
import uuid
from typing import IO, Any, Callable, Dict, List, Optional

from pyformance import MetricsRegistry
from pyformance.meters import CallbackGauge

from .. import _config as config
from .._client import Apptuit
from .._hints import counted
from ..pyformance import ApptuitReporter
from .._query import Output
from ..testing import LocalVictoriaMetrics, VictoriaMetricsMissing
from ..timeseries import TimeSeries, encode_metric
from .interrupts import Interrupts
from .tables import labels, selector, text_table

CITIES = {"BLR": 5, "DEL": 4, "HYD": 2, "PNQ": 1}   # city: relative order volume
SERVICE = "order-service-demo"
ORDERS = "order_count_count"                         # counter "order_count", sanitized
P99 = "order_processing_time_99_percentile"
_BAR = 24


class OrderService:
    """Fake orders through instrumented workers: the metrics a real service has.

    A producer queues orders; ``workers`` threads take them, mark a meter, time
    the processing, record the order size and count the order per city.
    """

    def __init__(self, registry: MetricsRegistry, workers: int = 4) -> None:
        self.orders: "queue.Queue[tuple]" = queue.Queue()
        self.per_city = {city: registry.counter(encode_metric("order_count", {"city": city}))
                         for city in CITIES}
        self.requests = registry.meter("order_requests")
        self.latency = registry.timer("order_processing_time")
        self.sizes = registry.histogram("order_size")
        registry.gauge("order_queue_depth", CallbackGauge(self.orders.qsize))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._produce, daemon=True)] + [
            threading.Thread(target=self._work, daemon=True) for _ in range(workers)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    @property
    def handled(self) -> int:
        return sum(counter.get_count() for counter in self.per_city.values())

    def _produce(self) -> None:
        rng = random.Random()
        cities, weights = list(CITIES), list(CITIES.values())
        while not self._stop.wait(rng.expovariate(400)):
            self.orders.put((rng.choices(cities, weights)[0], rng.randint(1, 12)))

    def _work(self) -> None:
        rng = random.Random()
        while not self._stop.is_set():
            try:
                city, size = self.orders.get(timeout=0.1)
            except queue.Empty:
                continue
            self.requests.mark()
            with self.latency.time():
                self._stop.wait(0.0005 * size * rng.lognormvariate(0, 0.5))
            self.sizes.add(size)
            self.per_city[city].inc()


# where a local VictoriaMetrics takes each wire
_LOCAL_ENDPOINTS = {"opentsdb": lambda vm: vm.put_endpoint,
                    "remote_write": lambda vm: vm.query_url + "/api/v1/write",
                    "influx": lambda vm: vm.query_url}


def run_demo(duration: float = 20.0, plot: Optional[str] = "demo.png",
             interval: float = 2.0, workers: int = 4, out: Optional[IO[str]] = None,
             wire: Optional[str] = None, interrupts: Optional[Interrupts] = None) -> int:
    """Run the demo over ``wire`` (default ``APPTUIT_WIRE``, else OpenTSDB puts);
    0 when every point arrived and was read back, else 1. Its waits end early, with
    ``KeyboardInterrupt``, once ``interrupts`` has seen a signal."""
    out = out or sys.stdout
    interrupts = interrupts or Interrupts()
    remote = os.environ.get(config.TOKEN) or os.environ.get(config.ENDPOINT)
    vm = None
    if not remote:
        try:
            vm = LocalVictoriaMetrics()
        except VictoriaMetricsMissing as err:
            out.write("apptuit-like demo: %s\nOr point the demo at a backend with "
                      "APPTUIT_API_ENDPOINT (and APPTUIT_API_TOKEN).\n" % err)
            return 1
        out.write("Started VictoriaMetrics on loopback: puts to %s, queries to %s, data in %s\n"
                  % (vm.put_endpoint, vm.query_url, vm.data_dir))
    else:
        out.write("Reporting to %s (from the environment)\n" % config.read_endpoint(None))
    try:
        wire = config.read_wire(wire) or "opentsdb"
        endpoints = ({"api_endpoint": _LOCAL_ENDPOINTS[wire](vm), "query_endpoint": vm.query_url}
                     if vm and wire in _LOCAL_ENDPOINTS else {})
        return _run(endpoints, vm, duration, plot, interval, workers, out, wire, interrupts)
    finally:
        if vm is not None:
            vm.stop()


def _run(endpoints: Dict[str, str], vm: Optional[LocalVictoriaMetrics], duration: float,
         plot: Optional[str], interval: float, workers: int, out: IO[str], wire: str,
         interrupts: Interrupts) -> int:
    run_id = uuid.uuid4().hex[:8]
    registry = MetricsRegistry()
    service = OrderService(registry, workers)
    errors: List[str] = []
    reporter = ApptuitReporter(
        registry, reporting_interval=interval, tags={"service": SERVICE, "run": run_id},
        api_endpoint=endpoints.get("api_endpoint"), collect_process_metrics=True, wire=wire,
        error_handler=lambda status, ok, failed, errs: errors.append(
            "%s failed (status %s)" % (counted(failed, "point"), status)))
    out.write("Order service running for %g s, reporting every %g s over the %s wire "
              "as run=%s\n" % (duration, interval, wire, run_id))
    started = time.time()
    service.start()
    reporter.start()
    try:
        _show_progress(duration, reporter, service, errors, out, interrupts)
    finally:
        service.stop()
        reporter.stop()
    stats = reporter.stats()
    out.write("\nHandled %d orders; reporter sent %d application points, %d failed (its "
              "own apptuit_reporter_* series ride along uncounted; each report carries "
              "the counts as they stood before it, so the stored send count trails this "
              "by the last report)\n" % (service.handled, stats["sent"], stats["failed"]))
    output, query_endpoint = _read_back(endpoints, vm, run_id, started, interval,
                                        stats["sent"], out, interrupts.wait)
    out.write("\nRead back with PromQL at %s: %d series\n%s\n"
              % (query_endpoint, len(output), summary_table(output)))
    if plot and not draw_chart(output, plot, out):
        return 1
    return 0 if output.series and not stats["failed"] else 1


# VictoriaMetrics hides the newest 30 s from queries unless -search.latencyOffset says less
_LATENCY_OFFSET = 30.0


def _read_back(endpoints: Dict[str, str], vm: Optional[LocalVictoriaMetrics], run_id: str,
               started: float, interval: float, sent: int, out: IO[str],
               wait: Callable[[float], None]) -> tuple:
    """Every series of the run, sampled at the reporting interval up to its final report.

    The query waits one step so that a sampling step lies past the final report
    (and VictoriaMetrics, which answers from samples about a second old, has it).
    When nothing is visible although points were accepted, it says why and waits
    out VictoriaMetrics' default latency offset once.
    """
    out.write("Waiting %.0f s for the final report to become queryable...\n" % (interval + 1))
    wait(interval + 1)
    client = Apptuit(api_endpoint=endpoints.get("query_endpoint"),
                     query_endpoint=endpoints.get("query_endpoint"))
    expr = '{run="%s"}' % run_id

    def query() -> Any:
        if vm is not None:
            vm.flush()
        return client.query_promql(expr, start=int(started), end=time.time(),
                                   step=interval)[expr]
    output = query()
    if not output.series and sent:
        out.write(
            "No series of this run is visible yet at %s, although the backend accepted %d "
            "points. VictoriaMetrics hides the newest %g s from queries unless it runs "
            "with -search.latencyOffset=0s (the README's command sets it); waiting "
            "%g s for them...\n" % (client.query_endpoint, sent, _LATENCY_OFFSET,
                                     _LATENCY_OFFSET))
        wait(_LATENCY_OFFSET)
        output = query()
        if not output.series:
            out.write("Still nothing: check that %s (queries) reads the TSDB that %s "
                      "(puts) writes to.\n" % (config.QUERY_ENDPOINT, config.ENDPOINT))
    return output, client.query_endpoint


def _show_progress(duration: float, reporter: ApptuitReporter, service: OrderService,
                   errors: List[str], out: IO[str], interrupts: Interrupts) -> None:
    tty = out.isatty()
    started = time.monotonic()
    printed = -1
    while True:
        elapsed = min(time.monotonic() - started, duration)
        done = int(_BAR * elapsed / duration) if duration else _BAR
        stats = reporter.stats()
        line = "[%s%s] %5.1f/%g s  orders %d  points sent %d  failed %d%s" % (
            "#" * done, "." * (_BAR - done), elapsed, duration, service.handled,
            stats["sent"], stats["failed"], ("  last error: " + errors[-1]) if errors else "")
        if tty:
            out.write("\r" + line)
            out.flush()
        elif int(elapsed) // 5 > printed or elapsed >= duration:   # a line per 5 s in logs
            printed = int(elapsed) // 5
            out.write(line + "\n")
        if elapsed >= duration:
            return
        interrupts.wait(min(0.25, duration - elapsed))


def summary_table(output: Output) -> str:
    """Each series of the run with its last value and sample count, names sorted.

    Tags that every series shares are listed once above the table, not per row.
    """
    common = _common_tags(output)
    rows = []
    for series in sorted(output, key=str):
        own = {k: v for k, v in (series.tags or {}).items() if k not in common}
        rows.append([selector(TimeSeries(series.metric, own)),
                     series.values[-1] if series.values else "", len(series)])
    shared = labels(common)
    return "tags on every series: %s\n\n%s" % (
        shared or "none", text_table(["series", "last value", "samples"], rows))


def _common_tags(output: Output) -> Dict[str, str]:
    series = output.series
    if not series:
        return {}
    common = dict(series[0].tags or {})
    for other in series[1:]:
        common = {k: v for k, v in common.items() if (other.tags or {}).get(k) == v}
    return common


def draw_chart(output: Output, path: str, out: IO[str]) -> bool:
    """Orders per city and the timer's p99 over time, as a PNG at ``path``."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        out.write("Cannot draw %s: matplotlib is missing; install it with "
                  "pip install 'apptuit_like[plot]'\n" % path)
        return False
    figure = chart(output, plt)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    out.write("Chart written to %s\n" % path)
    return True


def chart(output: Output, plt: Any) -> Any:
    """The demo's figure: labelled axes whose scales start at zero."""
    first = min((s.timestamps[0] for s in output if s.timestamps), default=0)
    figure, (orders, latency) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for series in sorted(output, key=str):
        seconds = [t - first for t in series.timestamps]
        if series.metric == ORDERS:
            orders.plot(seconds, series.values, marker=".", label=(series.tags or {}).get("city"))
        elif series.metric == P99:
            latency.plot(seconds, [v * 1000 for v in series.values], marker=".",
                         color="tab:red")
    orders.set_title("Orders handled per city (cumulative)")
    orders.set_ylabel("orders")
    orders.legend(loc="upper left")
    latency.set_title("order_processing_time p99")
    latency.set_ylabel("milliseconds")
    latency.set_xlabel("seconds since the first report")
    for axes in (orders, latency):   # from zero: no zooming into noise
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.3)
    return figure
