"""The ``Apptuit`` client: validate and encode points, then send them.

>>> client = Apptuit(api_endpoint="http://127.0.0.1:4242", global_tags={"env": "dev"})
>>> client
Apptuit(api_endpoint='http://127.0.0.1:4242', token=None)
"""
import logging
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import requests

from . import _config as config
from ._encoding import (MAX_SECONDS, check_point, is_plain, name_part, rebatch,
                       render_batches, render_checked, render_point, tags_json, tags_part)
from .errors import ApptuitValueError
from ._hints import counted
from ._query import (Moment, QueryResult, answer_body, check_step, parse_apptuit, parse_promql,
                    query_range)
from ._retry import RetryPolicy
from ._sanitize import Sanitizer, clean_series, get_sanitizer
from .timeseries import DataPoint, Tags, TimeSeries
from ._transport import Outcome, Transport, deliver_batches
from ._wire import get_wire

log = logging.getLogger("apptuit_like")


class Apptuit:
    """Sends points to an Apptuit / OpenTSDB-style backend and queries them back.

    Positional parameters are apptuit-py's; the rest are keyword-only:
    ``compression`` ("gzip", "deflate" or None), ``timeout`` (seconds, default
    ``APPTUIT_TIMEOUT`` or 60), ``batch_size`` (points per request),
    ``max_request_bytes`` (uncompressed JSON per request, 8 MiB; None: no cap),
    ``query_endpoint`` (PromQL; default ``APPTUIT_QUERY_ENDPOINT`` or the API
    endpoint), ``retry_policy`` (a :class:`RetryPolicy`: backoff settings) and
    ``verify`` (TLS verification, on by default; a CA bundle path, or False
    to turn it off, which logs a warning) and ``timestamp_precision`` ("ms" or
    "s"; default ``APPTUIT_TIMESTAMP_PRECISION``, else "s" for hosted Apptuit and
    "ms" elsewhere): whether fractional seconds and millisecond timestamps go out
    as milliseconds or are cut to whole seconds.

    ``wire`` (default ``APPTUIT_WIRE``, else "opentsdb") picks the receiver's
    protocol: "opentsdb" (JSON puts to ``{api_endpoint}/api/put``),
    "remote_write" (Prometheus remote write; ``api_endpoint`` is the full
    remote-write URL; bodies are always snappy-compressed, ``compression`` is
    ignored) or "influx" (line protocol to ``{api_endpoint}/write``; InfluxDB 1.x
    needs ``influx_database``, InfluxDB 2 ``influx_org`` and ``influx_bucket``).
    Both new wires stamp in milliseconds.
    """

    def __init__(self, token: Optional[str] = None, api_endpoint: Optional[str] = None,
                 global_tags: Optional[Tags] = None, ignore_environ_tags: bool = False,
                 sanitize_mode: Optional[str] = "prometheus", *,
                 compression: Optional[str] = "gzip", timeout: Optional[float] = None,
                 batch_size: int = config.DEFAULT_BATCH_SIZE,
                 max_request_bytes: Optional[int] = config.DEFAULT_MAX_REQUEST_BYTES,
                 query_endpoint: Optional[str] = None,
                 retry_policy: Optional[RetryPolicy] = None,
                 verify: Union[bool, str] = True,
                 timestamp_precision: Optional[str] = None, wire: Optional[str] = None,
                 influx_database: Optional[str] = None, influx_org: Optional[str] = None,
                 influx_bucket: Optional[str] = None) -> None:
        self.disabled = config.env_flag(config.DISABLED)
        self.endpoint = config.read_endpoint(api_endpoint)
        influx = {key: value for key, value in (("database", influx_database),
                                                ("org", influx_org), ("bucket", influx_bucket))
                  if value}
        self.wire = get_wire(config.read_wire(wire), **influx)
        self.timestamp_precision = ("ms" if self.wire.millis else
                                    config.read_precision(timestamp_precision, self.endpoint))
        self._millis = self.timestamp_precision == "ms"
        self.query_endpoint = config.read_endpoint(
            query_endpoint, config.QUERY_ENDPOINT, default=self.endpoint)
        token = config.read_token(token)
        if not token and config.is_hosted(self.endpoint) and not self.disabled:
            raise ApptuitValueError(
                "Missing Apptuit API token for %s: pass token=... or set the environment "
                "variable %s; for a TSDB of your own, set "
                "api_endpoint=... or %s (apptuit-like: --endpoint) instead"
                % (self.endpoint, config.TOKEN, config.ENDPOINT))
        self.token = token
        self.sanitize_mode = sanitize_mode
        self.sanitize = get_sanitizer(sanitize_mode)
        # apptuit-py's attribute: the sanitizer function in use, None when names pass as given
        self.sanitizer: Optional[Sanitizer] = self.sanitize if sanitize_mode else None
        if not global_tags and not ignore_environ_tags:
            global_tags = config.environ_tags()
        self._global_tags = dict(global_tags or {})
        self.timeout = config.read_timeout(timeout)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ApptuitValueError("batch_size must be a positive integer, got %r"
                                    % (batch_size,))
        self.batch_size = batch_size
        if max_request_bytes is not None and (not isinstance(max_request_bytes, int)
                                              or max_request_bytes < 1):
            raise ApptuitValueError("max_request_bytes must be a positive integer or None, "
                                    "got %r" % (max_request_bytes,))
        self.max_request_bytes = max_request_bytes
        self.retry_policy = retry_policy or RetryPolicy()
        self.verify = verify
        if verify is False:   # a CA bundle path is verification too
            log.warning("TLS certificate verification is off for %s (verify=False): "
                        "anyone on the path can read the token and the data", self.endpoint)
        self._json = self.wire.name == "opentsdb"
        self.compression = self.wire.check_compression(compression)
        self.transport = Transport(self.put_apiurl, token, self.compression, verify, self.wire)

    def __repr__(self) -> str:
        return "Apptuit(api_endpoint=%r, token=%s)" % (
            self.endpoint, "'***'" if self.token else None)

    def __enter__(self) -> "Apptuit":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self.transport.close()

    @property
    def session(self) -> requests.Session:
        """The ``requests.Session`` every send and query goes through: mount an
        adapter on it, or mock requests in tests, as with any requests code.

        >>> from requests.adapters import HTTPAdapter
        >>> Apptuit(api_endpoint="http://127.0.0.1:4242").session.mount(
        ...     "http://", HTTPAdapter(pool_maxsize=4))
        """
        return self.transport.session

    @property
    def put_apiurl(self) -> str:
        """Where points are posted (apptuit-py's name; the wire's URL)."""
        return self.wire.url(self.endpoint)

    @property
    def global_tags(self) -> Dict[str, str]:
        return dict(self._global_tags)

    def send(self, datapoints: Sequence[DataPoint], timeout: Optional[float] = None,
             retry_count: int = 0) -> None:
        """Validate every point, then send them in batches.

        A bad point raises ``ValueError`` naming it before anything is sent; a
        failed send raises :class:`ApptuitSendException` (or a subclass)::

            client.send([DataPoint("cpu", {"host": "a"}, int(time.time()), 0.5)])
        """
        if self.disabled or not datapoints:
            return
        if not self._json:
            self._ship(self.render_units((point.metric, point.tags, ((point.timestamp,
                                                                     point.value),))
                                        for point in datapoints), timeout, retry_count)
            return
        heads: Dict[Tuple[str, int], Tuple[str, str]] = {}
        points = []
        for point in datapoints:
            key = (point.metric, id(point.tags))
            head = heads.get(key)
            if head is None:
                head = heads[key] = self.series_head(point.metric, point.tags)
            points.append(render_point(head[0], head[1], point.timestamp, point.value,
                                       self._millis))
        self._ship(points, timeout, retry_count)

    def send_timeseries(self, timeseries_list: Iterable[TimeSeries],
                        timeout: Optional[float] = None, retry_count: int = 0) -> None:
        """Validate and send every point of every series, in batches::

            series = TimeSeries("queue_depth", {"queue": "orders"})
            series.add_point(int(time.time()), 3)
            client.send_timeseries([series])
        """
        if self.disabled or not timeseries_list:
            return
        if not self._json:
            self._ship(self.render_units((series.metric, series.tags,
                                         zip(series.timestamps, series.values))
                                        for series in timeseries_list), timeout, retry_count)
            return
        jobs: List[Any] = []   # every point is checked before the first batch goes out
        for series in timeseries_list:
            head, describe = self.series_head(series.metric, series.tags)
            stamps, values = series.timestamps, series.values
            jobs.append((head, stamps, values) if is_plain(stamps, values)
                        else render_checked(head, describe, stamps, values, self._millis))
        # plain series render batch by batch while the previous batch is sent
        outcomes = deliver_batches(self.transport,
                                   render_batches(jobs, self.batch_size, self.max_request_bytes),
                                   self._timeout(timeout),
                                   self.retry_policy.with_total(retry_count), overlap=True)
        raise_for_outcomes(outcomes)

    def query(self, query_str: str, start: Moment, end: Optional[Moment] = None,
              retry_count: int = 0, timeout: float = 180) -> Optional[QueryResult]:
        """Run an Apptuit QL query over ``[start, end]`` (Unix seconds or datetimes).

        Returns None when the answer has no outputs. Outputs are found by position
        or by id; each has ``.series`` and ``.to_df()``::

            result = client.query("cpu = fetch('proc.cpu.percent'); output(cpu)",
                                  start=time.time() - 3600)
            frame = result["cpu"].to_df()    # or result[0].to_df()

        Connection errors, timeouts, 429 and 5xx are retried ``retry_count``
        times; an error answer raises :class:`ApptuitQueryError` with the
        server's message.
        """
        start, end = query_range(start, end)
        params = {"start": start, "q": query_str}
        if end is not None:
            params["end"] = end
        body = self._get(self.endpoint + "/api/query", params, timeout, retry_count)
        return parse_apptuit(body, start, end)

    def query_promql(self, expr: str, start: Moment, end: Optional[Moment] = None,
                     step: Union[int, float, str] = 60, retry_count: int = 0,
                     timeout: float = 180) -> QueryResult:
        """Run a PromQL range query at ``query_endpoint``; ``end`` defaults to now.

        ``step`` is seconds or a duration such as ``"1m"``. The result has one
        output, whose id is ``expr``; each series is named by ``__name__`` and
        tagged with the other labels::

            result = client.query_promql('sum by (city) (order_count)',
                                         start=time.time() - 3600, step="1m")
            frame = result[0].to_df()
        """
        start, end = query_range(start, time.time() if end is None else end)
        params = {"query": expr, "start": start, "end": end, "step": check_step(step)}
        body = self._get(self.query_endpoint + "/api/v1/query_range", params, timeout,
                         retry_count)
        return parse_promql(body, expr, start, end)

    def _get(self, url: str, params: Dict[str, Any], timeout: float, retry_count: int) -> bytes:
        outcome = self.transport.get(url, params, timeout,
                                     self.retry_policy.with_total(retry_count))
        return answer_body(outcome)

    def series_head(self, metric: str, tags: Optional[Tags]) -> Tuple[str, str]:
        """(rendered head, description) of a series after merging and sanitizing."""
        merged = dict(self._global_tags)
        merged.update(tags or {})
        return render_head(metric, merged, self.sanitize)

    def render_units(self, series: Iterable[Tuple[str, Optional[Tags], Iterable[Any]]]
                     ) -> List[Any]:
        """What the remote-write and influx wires send for ``(metric, tags,
        [(timestamp, value), ...])`` series: every point checked (a bad one raises
        ValueError naming it), stamped in milliseconds."""
        wire, sanitize, units = self.wire, self.sanitize, []   # type: ignore[var-annotated]
        for metric, tags, points in series:
            merged = dict(self._global_tags)
            merged.update(tags or {})
            _, clean, describe = clean_series(metric, merged, sanitize)
            names = wire.field_parts(metric, ("",), sanitize)
            keys = (wire.key_part(metric, ("",), clean, sanitize),)
            for timestamp, value in points:
                stamp = int(check_point(describe, timestamp, value, millis=True)[0])
                wire.render(names, keys, (value,), wire.tail(
                    stamp if stamp >= MAX_SECONDS else stamp * 1000), units, True, 1)
        return units

    def _ship(self, points: List[str], timeout: Optional[float], retry_count: int) -> None:
        if not points:
            return
        outcomes = deliver_batches(self.transport,
                                   rebatch([points], self.batch_size, self.max_request_bytes),
                                   self._timeout(timeout),
                                   self.retry_policy.with_total(retry_count))
        raise_for_outcomes(outcomes)

    def _timeout(self, timeout: Optional[float]) -> float:
        return self.timeout if timeout is None else timeout


def render_head(metric: str, tags: Tags, sanitize: Sanitizer) -> Tuple[str, str]:
    """Check and sanitize a series; return (JSON head, description for errors)."""
    name, clean, describe = clean_series(metric, tags, sanitize)
    return name_part(name) + tags_part(tags_json(clean)), describe


def raise_for_outcomes(outcomes: List[Outcome]) -> None:
    """Raise one exception summing every failed outcome, typed by the first."""
    failures = [o for o in outcomes if not o.ok]
    if not failures:
        return
    first = failures[0]
    success = sum(o.success for o in outcomes)
    failed = sum(o.failed for o in outcomes)
    errors = [e for o in failures for e in o.errors]
    template = first.exception()
    raise type(template)("Failed to send %d of %s: %s"
                         % (failed, counted(success + failed, "point"), first.message),
                         first.status_code, success, failed, errors)
