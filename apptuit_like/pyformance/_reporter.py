"""ApptuitReporter: drains a pyformance registry on a daemon thread.

Every ``reporting_interval`` seconds, at a fixed rate, the reporter renders each
registry metric as points (``pyformance._collect``), puts any points kept from
an outage first, sends them in batches through the client's transport, and
hands each failed batch to the error handler. Nothing raises on that thread.
"""
import functools
import logging
import os
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type, Union

from pyformance import MetricsRegistry
from pyformance.reporters.reporter import Reporter

from .. import _config as config
from .._client import Apptuit
from .. import _packed as packed
from ..errors import ApptuitSendException, ApptuitValueError
from .._hints import counted
from .._retry import RetryPolicy
from ..timeseries import DataPoint, TimeSeriesName
from ..utils import strtobool
from .._transport import ABORT_KINDS, Outcome, deliver_batches
from . import _lifecycle as lifecycle, stop_signals
from ._adapter import record_seconds
from ._clock import UNITS, next_stamp, on_wire, to_ms
from ._cardinality import DEFAULT_MAX_SERIES_PER_METRIC, parse_duration
from ._collect import Collector
from ._error_handler import ErrorHandler, default_error_handler
from ._meta_metrics import (API_CALL_TIMER, NUMBER_OF_BUFFERED_POINTS, NUMBER_OF_DROPPED_POINTS,
                           NUMBER_OF_FAILED_POINTS, NUMBER_OF_INVALID_POINTS,
                           NUMBER_OF_SUCCESSFUL_POINTS, NUMBER_OF_TOTAL_POINTS, last_points,
                           meta_registry, note_folded, stats)
from ._merge import Merger, reset, snapshot
from ._multiprocess import ProcessGroup
from ._durable_buffer import BufferFailed, DurableBuffer
from ._outage_buffer import Backlog, OutageBuffer, fall_back, settle
from .process_metrics import ProcessMetrics

log = logging.getLogger("apptuit_like")

__all__ = ["ApptuitReporter", "BATCH_SIZE", "DISABLE_HOST_TAG"]

DEFAULT_MAX_BUFFERED_POINTS = 100000
DEFAULT_MAX_BUFFER_BYTES = 256 * 1024 * 1024   # on disk; about 2 million JSON points
BATCH_SIZE = config.DEFAULT_BATCH_SIZE   # apptuit-py's names for these two
DISABLE_HOST_TAG = config.DISABLE_HOST_TAG

# A report's (points sent, points failed, errors, HTTP status of the first failure
# that had one, the exception class to raise: the first failure's)
_Result = Tuple[int, int, List[Any], Optional[int], Type[ApptuitSendException]]
_NOTHING: _Result = (0, 0, [], None, ApptuitSendException)


class ApptuitReporter(Reporter):  # type: ignore[misc]  # pyformance has no types
    """Reports a pyformance ``MetricsRegistry`` to Apptuit or an OpenTSDB-style TSDB.

    Takes apptuit-py's parameters (``retry`` is an alias of ``retry_count``) and,
    as keyword arguments: ``batch_size``, ``max_request_bytes``, ``timeout`` (HTTP
    timeout of each send),
    ``max_buffered_points`` (points kept through an outage), ``buffer_dir`` and
    ``max_buffer_bytes`` (the outage buffer on disk instead), ``compression``,
    ``retry_policy``, ``verify``, ``wire`` ("opentsdb", "remote_write" or
    "influx", with ``influx_database``, ``influx_org``, ``influx_bucket``: see
    :class:`~apptuit_like.Apptuit`), ``max_series_per_metric`` (2,000; None: no
    cap) and ``idle_series_timeout`` (seconds or "1h"; None: off), and for
    services of several processes ``multiprocess_dir`` (default
    ``APPTUIT_MULTIPROCESS_DIR``), ``gauge_mode`` and ``gauge_modes``: reporters
    sharing the directory send one set of series with exact totals.

    A started reporter sends a final report at every orderly end of the process:
    :meth:`stop`, interpreter exit, and SIGTERM or SIGINT (``handle_signals``,
    default ``APPTUIT_HANDLE_SIGNALS`` or True: see
    :mod:`~apptuit_like.pyformance.stop_signals`), each bounded by
    ``shutdown_timeout`` (default ``APPTUIT_SHUTDOWN_TIMEOUT`` or 5 seconds).

    ``histogram_buckets`` (default ``APPTUIT_HISTOGRAM_BUCKETS`` or None):
    ``"vmrange"`` or ``"le"`` adds bucket series to every histogram and timer,
    whose sums across processes and hosts give true percentiles
    (``histogram_quantile``); None sends apptuit-py's series only.

    Example::

        registry = MetricsRegistry()
        reporter = ApptuitReporter(registry=registry, reporting_interval=10,
                                   api_endpoint="http://127.0.0.1:4242",
                                   tags={"service": "orders"})
        reporter.start()
        registry.counter(encode_metric("orders", {"city": "ber"})).inc()
        reporter.stop()   # sends a final report
    """

    def __init__(self, registry: Optional[MetricsRegistry] = None,
                 reporting_interval: float = 10, token: Optional[str] = None,
                 api_endpoint: Optional[str] = None, prefix: str = "",
                 tags: Optional[Dict[str, Any]] = None,
                 error_handler: Optional[ErrorHandler] = default_error_handler,
                 disable_host_tag: Optional[bool] = None,
                 collect_process_metrics: bool = False,
                 sanitize_mode: Optional[str] = "prometheus", retry_count: int = 0, *,
                 retry: Optional[int] = None, batch_size: int = config.DEFAULT_BATCH_SIZE,
                 max_request_bytes: Optional[int] = config.DEFAULT_MAX_REQUEST_BYTES,
                 timeout: Optional[float] = None,
                 max_buffered_points: int = DEFAULT_MAX_BUFFERED_POINTS,
                 compression: Optional[str] = "gzip",
                 retry_policy: Optional[RetryPolicy] = None, verify: Union[bool, str] = True,
                 multiprocess_dir: Optional[str] = None, gauge_mode: str = "per_process",
                 gauge_modes: Optional[Dict[str, str]] = None,
                 timestamp_precision: Optional[str] = None, wire: Optional[str] = None,
                 influx_database: Optional[str] = None, influx_org: Optional[str] = None,
                 influx_bucket: Optional[str] = None, buffer_dir: Optional[str] = None,
                 max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
                 max_series_per_metric: Optional[int] = DEFAULT_MAX_SERIES_PER_METRIC,
                 idle_series_timeout: Union[None, float, str] = None,
                 handle_signals: Optional[bool] = None,
                 shutdown_timeout: Optional[float] = None,
                 histogram_buckets: Optional[str] = None) -> None:
        super().__init__(registry=registry, reporting_interval=reporting_interval)
        if not reporting_interval > 0:
            raise ApptuitValueError("reporting_interval must be positive, got %r"
                                    % (reporting_interval,))
        self.client = Apptuit(token, api_endpoint, global_tags=None,
                              ignore_environ_tags=True,   # the reporter reads them itself
                              sanitize_mode=sanitize_mode, compression=compression,
                              timeout=timeout, batch_size=batch_size,
                              max_request_bytes=max_request_bytes,
                              retry_policy=retry_policy, verify=verify,
                              timestamp_precision=timestamp_precision, wire=wire,
                              influx_database=influx_database, influx_org=influx_org,
                              influx_bucket=influx_bucket)
        self._unit = UNITS[self.client.timestamp_precision]
        self.retry_policy = self.client.retry_policy.with_total(
            retry if retry is not None else retry_count)
        self.retry_count = self.retry_policy.total
        self.prefix = prefix or ""
        self.tags = config.reporter_tags(tags, disable_host_tag)
        self.error_handler = error_handler
        self.max_buffered_points = max_buffered_points
        self.buffer_dir = buffer_dir or os.environ.get(config.BUFFER_DIR) or None
        self.max_buffer_bytes = max_buffer_bytes
        self.handle_signals = config.read_handle_signals(handle_signals)
        self.shutdown_timeout = config.read_shutdown_timeout(shutdown_timeout)
        self.histogram_buckets = config.read_histogram_buckets(histogram_buckets)
        self.process_metrics = ProcessMetrics(self.registry) if collect_process_metrics else None
        self._meta_metrics_registry = meta_registry()
        collector = functools.partial(Collector, self.prefix, self.tags, self.client.sanitize,
                                      self.client.wire)
        self._collector = collector(max_series_per_metric=max_series_per_metric,
                                    idle_series_timeout=parse_duration(idle_series_timeout),
                                    histogram_buckets=self.histogram_buckets)
        self._meta_collector = collector()
        directory = multiprocess_dir or os.environ.get(config.MULTIPROCESS_DIR) or None
        self._group = ProcessGroup(directory) if directory else None
        self._merged = Merger(gauge_mode, gauge_modes,
                              buckets=self.histogram_buckets is not None)
        self._merged_meta = Merger("sum", buckets=False)   # no bucket series of its own
        # report_now checks the local registry; in a group the collector renders the
        # merged view, so a checker of its own keeps both caches warm
        self._checker = self._collector if self._group is None else collector(
            max_series_per_metric=max_series_per_metric,
            histogram_buckets=self.histogram_buckets)
        self._last_stamp = 0   # ms, of the last report stamped here, across restarts
        self._reset_state()
        if self._group is not None:   # started or not, a forked child must not share it
            lifecycle.track(self, lifecycle.grouped)

    def _reset_state(self) -> None:
        """Locks, buffer and thread: fresh at creation and in a forked child (a disk
        buffer's connection is closed before any fork: see durable_buffer)."""
        self._buffer: Backlog = OutageBuffer(self.max_buffered_points)
        if self.buffer_dir:
            self._buffer = DurableBuffer(self.buffer_dir, self.client.wire.name,
                                         self.max_buffer_bytes)
        self._report_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._stop_event = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._stop_timeout: Optional[float] = None

    def create_thread(self) -> None:
        """pyformance's hook; the thread is made by :meth:`start` instead."""
        self._loop_thread = None

    def __repr__(self) -> str:
        return "ApptuitReporter(api_endpoint=%r, reporting_interval=%r, running=%s)" % (
            self.client.endpoint, self.reporting_interval, self.is_running)

    @property
    def endpoint(self) -> str:
        """The API endpoint points go to (apptuit-py's attribute)."""
        return self.client.endpoint

    @property
    def token(self) -> Optional[str]:
        """The API token in use (apptuit-py's attribute); never in a repr or log."""
        return self.client.token

    @property
    def is_running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> bool:
        """Start reporting on a daemon thread; False when already running."""
        with self._state_lock:
            if self.is_running:
                return False
            if self._group is not None:
                self._group.join()   # a live member from now on, before any fork
            self._stop_event = threading.Event()
            self._thread = threading.Thread(target=self._loop, daemon=True,
                                            name="apptuit-reporter-%x" % id(self))
            self._thread.start()
        lifecycle.track(self, lifecycle.running)
        if self.handle_signals:
            stop_signals._install_for_start()
        return True

    def stop(self, timeout: Optional[float] = None) -> None:
        """Wake the thread, send a final report bounded by ``timeout`` (default
        ``shutdown_timeout``) and join it; what could not go out by then stays in
        the outage buffer (on disk, with ``buffer_dir``)."""
        with self._state_lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._stop_timeout = self.shutdown_timeout if timeout is None else timeout
            self._stop_event.set()
        lifecycle.untrack(self)
        if thread is not threading.current_thread():
            thread.join(self._stop_timeout + 1.0)

    def flush(self, timeout: Optional[float] = None) -> None:
        """Report now from the calling thread, bounded by ``timeout`` (default
        ``shutdown_timeout``) and without retries, and go on running; in a group,
        publish this process's state and send the group's series. Never raises:
        failures go to the error handler, as in the background loop. For hooks
        after which the process may end without ``atexit``.

        >>> ApptuitReporter(api_endpoint="http://127.0.0.1:9").flush()   # not started
        """
        if not self.is_running:
            return
        deadline = time.monotonic() + (self.shutdown_timeout if timeout is None else timeout)
        self._cycle(deadline=deadline, retry=self.retry_policy.with_total(0), now=True)

    def stats(self) -> Dict[str, int]:
        """Points counted by the meta metrics so far, e.g. for a health check.

        ``sent`` and ``failed`` count send attempts of the application's points,
        not the reports' own meta points (a point that failed, was buffered and
        then went out counts in both), ``invalid`` the values
        skipped, ``buffered`` and ``dropped`` the outage buffer's traffic, ``folded``
        the registry keys the cardinality guard folds into overflow series now.
        """
        return stats(self._meta_metrics_registry, self._collector.guard.folded)

    def _loop(self) -> None:
        # Cycles run at start + k * interval (monotonic, so they never drift); each
        # is stamped with the wall clock when it is sent (clock.next_stamp).
        interval = self.reporting_interval
        next_due = time.monotonic() + interval
        stop = self._stop_event
        while not stop.wait(max(0.0, next_due - time.monotonic())):
            self._cycle(sleep=stop.wait)
            now = time.monotonic()
            next_due += interval
            if next_due <= now:   # a cycle overran: skip the missed slots, keep the phase
                next_due += interval * ((now - next_due) // interval + 1)
        deadline = time.monotonic() + (self._stop_timeout or 0.0)
        self._cycle(deadline=deadline, retry=self.retry_policy.with_total(0), final=True)

    def _cycle(self, **send_options: Any) -> None:
        try:
            self._report(self.registry, None, **send_options)
        except Exception:   # the reporter thread must never die
            log.exception("ApptuitReporter: report cycle failed")

    def report_now(self, registry: Optional[MetricsRegistry] = None,
                   timestamp: Optional[float] = None) -> None:
        """Report synchronously; raise ApptuitSendException when points failed.

        In a multi-process group it publishes this process's state and sends the
        whole group's merged series, whether or not this process leads. A metric
        that cannot be sent (no tags; with ``sanitize_mode=None``, an invalid
        name) raises ValueError naming it before anything is sent, as apptuit-py
        does; the background loop skips and counts such metrics instead.
        """
        registry = registry or self.registry
        self._checker.check(registry)
        success, failed, errors, status, cls = self._report(registry, timestamp, now=True)
        if failed:   # typed by the first failure: a refused connection is a ConnectionError
            raise cls("Failed to send %d out of %s" % (failed, counted(success + failed, "point")),
                      status, success, failed, errors)

    def _report(self, registry: Any, timestamp: Optional[float],
                deadline: Optional[float] = None, retry: Optional[RetryPolicy] = None,
                sleep: Callable[[float], Any] = time.sleep, final: bool = False,
                now: bool = False) -> _Result:
        with self._report_lock:
            if self.client.disabled:
                return _NOTHING
            given = to_ms(timestamp) if timestamp else None   # apptuit-py: `or now`
            send = functools.partial(self._send, deadline=deadline,
                                     retry=retry or self.retry_policy, sleep=sleep)
            if self._group is None:
                rows = self.process_metrics.collect() if self.process_metrics else []
                stamp = given or self._next_stamp(deadline)
                return send(registry, self._meta_metrics_registry, rows, stamp)
            try:
                return self._report_as_group(registry, given, deadline, final or now, send)
            finally:
                if final:
                    self._group.leave()

    def _next_stamp(self, deadline: Optional[float]) -> int:
        self._last_stamp = next_stamp(self._last_stamp, self._unit, deadline)
        return self._last_stamp

    def _report_as_group(self, registry: Any, given: Optional[int], deadline: Optional[float],
                         always: bool, send: Callable[..., _Result]) -> _Result:
        """Publish this process's state; the leader, and ``always`` a process at its
        final report or in ``report_now``, then sends the group's merged series."""
        group = self._group
        assert group is not None
        rows = self.process_metrics.collect() if self.process_metrics else []
        group.write(self._state(registry, rows))
        if not (group.try_lead() or always):
            return _NOTHING
        with group.sending(deadline) as lock:
            if not lock.acquired:
                return _NOTHING
            live, archive = group.collect()
            user = self._merged.merge([(w, t, s["user"]) for w, t, s in live],
                                      archive.get("user", {}))
            meta = self._merged_meta.merge([(w, t, s["meta"]) for w, t, s in live],
                                           archive.get("meta", {}))
            # which keys of an overflowing metric are sent is the group's choice,
            # kept in the archive, whichever process sends
            archive["admitted"] = self._collector.admit(user, archive.get("admitted"))
            stamp = group.stamp(archive, given, self._unit, deadline)
            result = send(user, meta, [row for _, _, s in live for row in s["rows"]], stamp)
        if always:   # this send's own counts, for whoever sends next
            group.write(self._state(registry, rows))
        return result

    def _state(self, registry: Any, rows: List[Any]) -> Dict[str, Any]:
        return {"user": snapshot(registry, buckets=self._merged.buckets),
                "meta": snapshot(self._meta_metrics_registry, buckets=False),
                "rows": [list(row) for row in rows]}

    def _send(self, registry: Any, meta: Any, rows: List[Any], stamp: int,
              deadline: Optional[float], retry: RetryPolicy,
              sleep: Callable[[float], Any]) -> _Result:
        # points are rendered batch by batch as they are sent, each batch compressed
        # as it fills: a report holds about one compressed batch however many series
        stopped: List[Outcome] = []   # a failure that stops the rest: keep the backlog
        found = _Found()
        points = self._points(registry, meta, rows, on_wire(stamp, self._unit),
                              lambda: bool(stopped), found)
        client = self.client
        batches = packed.batches(points, client.batch_size, client.max_request_bytes,
                                 client.wire.frame, client.compression)
        outcomes = deliver_batches(client.transport, batches, client.timeout,
                                   retry, deadline, sleep, settled=lambda results: stopped.extend(
                                       o for o in results if o.kind in ABORT_KINDS))
        return self._handle(outcomes, found)

    def _points(self, registry: Any, own_registry: Any, rows: List[Any], timestamp: int,
                stopped: Callable[[], bool], found: "_Found") -> Iterator[List[Any]]:
        """Chunks of this cycle's points: buffered ones first, the meta metrics last.
        What it finds on the way (backlog units taken, the meta points) goes into
        ``found``, complete once the chunks are exhausted."""
        meta, _ = self._meta_collector.collect(own_registry, timestamp)
        found.own_points = len(meta)
        for chunk in self._buffer.backlog(stopped):
            found.taken += len(chunk)
            yield chunk
        invalid = yield from self._collector.chunks(registry, timestamp)
        if rows:
            rendered, bad = self._collector.render_rows(rows, timestamp)
            yield rendered
            invalid += bad
        self._count(NUMBER_OF_INVALID_POINTS, invalid)
        note_folded(self._meta_metrics_registry, self._collector.guard.folded)
        yield meta

    def _handle(self, outcomes: List[Outcome], found: "_Found") -> _Result:
        success = failed = 0
        errors: List[Any] = []
        status = None
        cls = None
        timer = self._meta_metrics_registry.timer(API_CALL_TIMER)
        self._keep(outcomes, found.taken)   # on disk before any failure is reported
        for outcome in outcomes:
            success += outcome.success
            failed += outcome.failed
            if outcome.elapsed:
                record_seconds(timer, outcome.elapsed)
            if outcome.ok:
                continue
            errors += outcome.errors
            status = status or outcome.status_code
            cls = cls or type(outcome.exception())
            self._call_error_handler(outcome)
        # as apptuit-py: the counts leave out the report's own meta points
        own_ok, own_failed = last_points(outcomes, found.own_points)
        self._count(NUMBER_OF_TOTAL_POINTS, success + failed - own_ok - own_failed)
        self._count(NUMBER_OF_SUCCESSFUL_POINTS, success - own_ok)
        self._count(NUMBER_OF_FAILED_POINTS, failed - own_failed)
        return success, failed, errors, status, cls or ApptuitSendException

    def _keep(self, outcomes: List[Outcome], taken: int) -> None:
        """Settle the buffer (``outage_buffer.settle``); a disk buffer that fails
        falls back to memory, and says so to the error handler."""
        if not (self.buffer_dir or self.max_buffered_points):
            return
        try:
            dropped, kept = settle(self._buffer, taken, outcomes)
        except BufferFailed as err:   # only a disk buffer fails so
            assert isinstance(self._buffer, DurableBuffer)
            self._buffer, dropped, kept = fall_back(self._buffer, taken, outcomes,
                                                    self.max_buffered_points)
            message = "%s; points are kept in memory from now on" % err
            log.warning("ApptuitReporter: %s", message)
            self._call_error_handler(None, 0, 0, [{"datapoint": None, "error": message}])
        self._count(NUMBER_OF_DROPPED_POINTS, dropped)
        self._count(NUMBER_OF_BUFFERED_POINTS, kept)

    def _call_error_handler(self, outcome: Optional[Outcome], *call: Any) -> None:
        if self.error_handler is None:
            return
        try:
            if outcome is not None:
                call = (outcome.status_code, outcome.success, outcome.failed, outcome.errors)
            self.error_handler(*call)
        except Exception:
            log.exception("ApptuitReporter: the error handler raised")

    def _count(self, name: str, value: int) -> None:
        if value:
            self._meta_metrics_registry.counter(name).inc(value)

    def _after_fork_in_child(self) -> None:
        was_running = self._thread is not None
        self._reset_state()
        self.client.transport.reset()
        if self._group is not None:
            # the child counts from zero; the parent goes on reporting its own share
            self._group.forget_after_fork()
            reset(self.registry)
            self._meta_metrics_registry = meta_registry()
        elif was_running:
            lifecycle.warn_fork_once()
        if was_running:
            self.start()


class _Found:
    """What one send's points held: backlog units at its head, its meta points."""

    __slots__ = ("taken", "own_points")

    def __init__(self) -> None:
        self.taken = 0
        self.own_points = 0
