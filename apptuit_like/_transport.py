"""HTTP delivery of rendered points and queries: one session, retries, outcomes.

Every request goes through one ``requests.Session`` (urllib3's pool keeps the
connections alive), which applies the environment as requests always does:
proxies, ``REQUESTS_CA_BUNDLE``, ``~/.netrc`` (unless a token is set), read on each
request. Users' mocks (``responses``, ``requests-mock``) and mounted adapters see it.

``Transport.post`` turns a batch into one or more :class:`Outcome` objects and
``Transport.get`` a query into one; neither raises for anything the server or the
network does. The client turns failed outcomes into exceptions, the reporter into
error-handler calls and buffering.
"""
import logging
import platform
import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple,
                    Type, Union)

import requests

from .version import __version__
from .errors import (ApptuitAuthError, ApptuitConnectionError, ApptuitSendException,
                     ApptuitTimeout, _with_cause)
from ._packed import packed_body
from ._hints import answer_hint, connection_failure, counted, tls_failure, wrong_port_hint
from ._retry import RetryPolicy, parse_retry_after
from ._wire import Wire, get_wire

log = logging.getLogger("apptuit_like")

RETRYABLE_KINDS = frozenset(["server", "connection", "timeout"])
_EXCEPTIONS = {"auth": ApptuitAuthError, "connection": ApptuitConnectionError,
               "timeout": ApptuitTimeout}
_SNIPPET = 300
_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]*>", re.S | re.I)
# an answer damaged on the way: as transient as a reset connection, so retried
_CUT_SHORT = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)


@dataclass
class Outcome:
    """What became of one batch.

    ``kind`` is one of ``ok``, ``rejected`` (400 and other final 4xx), ``auth``
    (401/403), ``too_large`` (413), ``server`` (429/5xx), ``connection``,
    ``timeout`` and ``tls``.
    """

    kind: str
    points: Sequence[str]
    status_code: Optional[int] = None
    success: int = 0
    failed: int = 0
    errors: List[Any] = field(default_factory=list)
    message: str = ""
    retry_after: Optional[float] = None
    elapsed: float = 0.0   # seconds spent on this batch, retries included
    body: bytes = b""      # the answer to a GET
    cause: Optional[type] = None   # the requests exception class when no answer came

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def retryable(self) -> bool:
        """Worth keeping for later: the backend may well take these points then."""
        return self.kind in RETRYABLE_KINDS

    def exception(self) -> ApptuitSendException:
        cls: Type[ApptuitSendException] = _with_cause(
            _EXCEPTIONS.get(self.kind, ApptuitSendException), self.cause)
        return cls(self.message, self.status_code, self.success, self.failed, self.errors)


def _failure(kind: str, points: Sequence[str], status_code: Optional[int], message: str,
             retry_after: Optional[float] = None, cause: Optional[type] = None) -> Outcome:
    return Outcome(kind, points, status_code, 0, len(points),
                   [{"datapoint": None, "error": message}], message, retry_after,
                   cause=cause)


def _snippet(response: requests.Response) -> str:
    text = response.text.strip()
    if "html" in response.headers.get("Content-Type", "") or text[:1] == "<":
        text = " ".join(_TAG.sub(" ", text).split())   # a proxy's page: its words only
    return text[:_SNIPPET] + ("..." if len(text) > _SNIPPET else "")


def outcome_from_response(response: requests.Response, points: Sequence[str]) -> Outcome:
    """Classify one HTTP answer to a put of ``points``."""
    code = response.status_code
    if 200 <= code < 300:
        return Outcome("ok", points, code, len(points))
    if code == 400:
        return _rejected(response, points)
    if code in (401, 403):
        return _failure("auth", points, code, "HTTP %d: the server refused the API token; "
                        "check the token argument or APPTUIT_API_TOKEN" % code)
    if code == 413:
        return _failure("too_large", points, code,
                        "HTTP 413: payload of %s too large" % counted(len(points), "point"))
    if RetryPolicy.is_retryable_status(code):
        wait = parse_retry_after(response.headers.get("Retry-After"), time.time())
        return _failure("server", points, code, "HTTP %d %s: %s"
                        % (code, response.reason, _snippet(response)), wait)
    return _failure("rejected", points, code, "HTTP %d %s from %s: %s%s"
                    % (code, response.reason, response.url, _snippet(response),
                       answer_hint(code, response.url)))


def _rejected(response: requests.Response, points: Sequence[str]) -> Outcome:
    try:
        details = response.json()
        failed = int(details["failed"])
        success = int(details.get("success", len(points) - failed))
        errors = list(details.get("errors") or [])
    except (ValueError, KeyError, TypeError):
        what = "HTTP 400, no per-point details: " if points else ""   # a query says its own
        return _failure("rejected", points, 400, "%s%s%s" % (
            what, _snippet(response), wrong_port_hint(response.url, response.text)))
    message = "HTTP 400: %d of %s rejected" % (failed, counted(len(points), "point"))
    return Outcome("rejected", points, 400, success, failed, errors, message)


def _user_agent() -> str:
    return "apptuit-like/%s python-requests/%s %s/%s" % (
        __version__, requests.__version__, platform.python_implementation(),
        platform.python_version())


class Sender(Protocol):
    """What delivering batches needs of a transport (``Transport``, or the
    in-memory recorder of ``apptuit_like.testing``)."""

    def post(self, points: Sequence[str], timeout: float, retry: RetryPolicy,
             deadline: Optional[float] = None,
             sleep: Callable[[float], object] = time.sleep) -> List[Outcome]:
        """Deliver one batch: one outcome, or more where it was split."""

    def reset(self) -> None:
        """Drop pooled connections (after a fork)."""

    def close(self) -> None:
        """Release the connections."""


class Transport:
    """Posts rendered points to ``url`` over one reused ``requests.Session``;
    ``wire`` (OpenTSDB JSON by default) makes the bodies and their headers."""

    def __init__(self, url: str, token: Optional[str] = None,
                 compression: Optional[str] = "gzip",
                 verify: Union[bool, str] = True, wire: Optional[Wire] = None) -> None:
        self.url = url
        self.wire = wire or get_wire(None)
        self.compression = compression
        self.headers = {"Content-Type": self.wire.content_type, "User-Agent": _user_agent()}
        self.headers.update(self.wire.extra_headers)
        if compression:
            self.headers["Content-Encoding"] = compression
        if token:
            self.headers["Authorization"] = self.wire.auth_header(token)
        self._get_headers = {key: value for key, value in self.headers.items()
                             if key in ("User-Agent", "Authorization")}
        self._get_headers["Accept"] = "application/json"
        self.verify = verify
        # with a token, a login in ~/.netrc must not replace its Authorization header
        self._auth = _keep_headers if token else None
        self.session = requests.Session()

    def __repr__(self) -> str:
        return "Transport(url=%r, compression=%r)" % (self.url, self.compression)

    def reset(self) -> None:
        """Drop pooled connections (after fork they belong to the parent)."""
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def post(self, points: Sequence[str], timeout: float, retry: RetryPolicy,
             deadline: Optional[float] = None,
             sleep: Callable[[float], object] = time.sleep) -> List[Outcome]:
        """Deliver one batch; a 413 splits it in halves until each part fits."""
        outcome = self._post_with_retries(points, timeout, retry, deadline, sleep)
        if outcome.kind == "too_large" and len(points) > 1:
            half = len(points) // 2
            return (self.post(points[:half], timeout, retry, deadline, sleep)
                    + self.post(points[half:], timeout, retry, deadline, sleep))
        return [outcome]

    def get(self, url: str, params: Dict[str, Any], timeout: float, retry: RetryPolicy,
            sleep: Callable[[float], object] = time.sleep) -> Outcome:
        """GET ``url`` with retries; the outcome carries the answer's body."""
        return self._retrying(lambda limit: self._get_once(url, params, limit),
                              "GET " + url, timeout, retry, None, sleep)

    def _post_with_retries(self, points: Sequence[str], timeout: float, retry: RetryPolicy,
                           deadline: Optional[float], sleep: Callable[[float], object]
                           ) -> Outcome:
        body = packed_body(points, self.wire.frame, self.compression)
        if body is None:
            body = self.wire.body(points, self.compression)
        return self._retrying(lambda limit: self._post_once(body, points, limit),
                              counted(len(points), "point"), timeout, retry, deadline, sleep)

    @staticmethod
    def _retrying(once: Callable[[float], Outcome], what: str, timeout: float,
                  retry: RetryPolicy, deadline: Optional[float],
                  sleep: Callable[[float], object]) -> Outcome:
        """Call ``once(timeout)`` until its outcome is final or the retries run out."""
        started = time.monotonic()
        attempt = 0
        while True:
            outcome = once(_bounded(timeout, deadline))
            outcome.elapsed = time.monotonic() - started
            if not outcome.retryable or attempt >= retry.total:
                return outcome
            wait = retry.delay(attempt, outcome.retry_after)
            if deadline is not None and time.monotonic() + wait >= deadline:
                return outcome
            log.debug("retrying %s in %.2fs after: %s", what, wait, outcome.message)
            sleep(wait)
            attempt += 1

    def _post_once(self, body: bytes, points: Sequence[str], timeout: float) -> Outcome:
        response, failure = self._request(self.url, lambda: self.session.post(
            self.url, data=body, headers=self.headers, auth=self._auth, timeout=timeout,
            verify=self.verify), timeout)
        if response is None:
            return _failure(failure[0], points, None, failure[1], cause=failure[2])
        with response:
            return outcome_from_response(response, points)

    def _get_once(self, url: str, params: Dict[str, Any], timeout: float) -> Outcome:
        response, failure = self._request(url, lambda: self.session.get(
            url, params=params, headers=self._get_headers, auth=self._auth, timeout=timeout,
            verify=self.verify), timeout)
        if response is None:
            return _failure(failure[0], (), None, failure[1], cause=failure[2])
        with response:
            outcome = outcome_from_response(response, ())
            outcome.body = response.content
            return outcome

    @staticmethod
    def _request(url: str, send: Callable[[], requests.Response], timeout: float
                 ) -> Tuple[Optional[requests.Response], Tuple[str, str, Optional[type]]]:
        """(response, ...), or (None, (failure kind, message, the requests exception's
        class)) when no answer came."""
        try:
            return send(), ("", "", None)
        except requests.exceptions.Timeout as err:
            return None, ("timeout", "timed out after %.1fs: %s"
                          % (timeout, type(err).__name__), type(err))
        except requests.exceptions.SSLError as err:
            return None, ("tls", tls_failure(url, str(err)), type(err))
        except requests.exceptions.ConnectionError as err:
            return None, ("connection", connection_failure(url, _reason(err)), type(err))
        except _CUT_SHORT as err:
            return None, ("connection", "the answer from %s was cut short: %s"
                          % (url, _reason(err)), type(err))
        except requests.exceptions.RequestException as err:
            return None, ("rejected", "request failed: %s" % err, type(err))


def _keep_headers(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth that adds nothing: the token's header stays, and requests looks for
    no ~/.netrc login in its place."""
    return request


def _bounded(timeout: float, deadline: Optional[float]) -> float:
    if deadline is None:
        return timeout
    return max(0.001, min(timeout, deadline - time.monotonic()))


def _reason(err: Exception) -> str:
    """The cause of a connection error, without urllib3's long wrapping."""
    inner = getattr(err.args[0], "reason", None) if err.args else None
    text = str(inner or err)
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."


ABORT_KINDS = frozenset(["auth", "tls"]) | RETRYABLE_KINDS


def deliver_batches(transport: Sender, batches: Iterable[Sequence[str]], timeout: float,
                    retry: RetryPolicy, deadline: Optional[float] = None,
                    sleep: Callable[[float], object] = time.sleep, overlap: bool = False,
                    settled: Optional[Callable[[List[Outcome]], object]] = None
                    ) -> List[Outcome]:
    """Post each batch; one or more outcomes per batch, in order.

    A rejected batch (400) does not stop the rest. A failure that the next batch
    would meet too (bad token, server down or unreachable) does: the batches not
    tried are returned as failed outcomes of the same kind, so callers count them
    and, when retryable, keep them. With ``overlap`` each batch is posted on a
    worker thread while ``batches`` makes the next one (compression and network
    I/O release the GIL); at most one batch is in flight. ``settled`` sees each
    batch's outcomes as soon as they are known, e.g. to report them while a long
    stream goes on.
    """
    outcomes: List[Outcome] = []
    stop: List[Outcome] = []

    # nested annotations are quoted: unquoted, each call would evaluate them
    def settle(results: "List[Outcome]") -> None:
        for outcome in results:
            if outcome.ok:   # delivered points are not needed again: free them now
                outcome.points = ()
        if settled is not None:
            settled(results)
        outcomes.extend(results)
        if not stop:
            stop.extend(o for o in results if o.kind in ABORT_KINDS)

    def post(batch: "Sequence[str]") -> "List[Outcome]":
        return transport.post(batch, timeout, retry, deadline, sleep)

    with (ThreadPoolExecutor(1, "apptuit-like-send") if overlap else nullcontext()) as pool:
        pending = None
        for batch in batches:
            if pending is not None:
                settle(pending.result())
                pending = None
            if stop:
                settle([_failure(stop[0].kind, batch, stop[0].status_code,
                                 "not sent after: " + stop[0].message)])
            elif pool is None:
                settle(post(batch))
            else:
                pending = pool.submit(post, batch)
            del batch   # delivered points are freed before the next batch is made
        if pending is not None:
            settle(pending.result())
    return outcomes
