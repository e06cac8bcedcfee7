"""What to change: the cause and the fix added to a failure's message, for the
answers and errors a mistyped endpoint most often gets. The client's exceptions,
the reporter's error handler and ``apptuit-like`` carry the same text.
"""
from urllib.parse import urlsplit

# VictoriaMetrics' answers to a request on the wrong one of its two ports
_WRONG_PORT = (
    ('unsupported path requested: "/api/put"',
     "this is VictoriaMetrics' HTTP port: send points to its OpenTSDB port (the address "
     "of -opentsdbHTTPListenAddr, e.g. APPTUIT_API_ENDPOINT=http://127.0.0.1:4242) and "
     "PromQL queries here (APPTUIT_QUERY_ENDPOINT)"),
    ('OpenTSDB server: "/api/v1/query',
     "PromQL went to VictoriaMetrics' OpenTSDB port: point APPTUIT_QUERY_ENDPOINT "
     "(query_endpoint=, --query-endpoint) at its HTTP port (-httpListenAddr, 8428 by "
     "default)"),
    ('OpenTSDB server: "/api/query',
     "VictoriaMetrics does not speak Apptuit QL: query it with PromQL (query_promql, "
     "apptuit-like query --promql) on its HTTP port"),
)


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun``, singular for one.

    >>> counted(1, "point"), counted(2, "point"), counted(0, "row")
    ('1 point', '2 points', '0 rows')
    """
    return "%d %s%s" % (count, noun, "" if count == 1 else "s")


def _address(url: str) -> str:
    parts = urlsplit(url)
    return "%s://%s" % (parts.scheme, parts.netloc)


def wrong_port_hint(url: str, text: str) -> str:
    """What to change, when an answer is a known "wrong port" answer; else ''.

    >>> wrong_port_hint("http://h:8428/api/put", 'unsupported path requested: "/api/put"')[:40]
    " (this is VictoriaMetrics' HTTP port: se"
    """
    for marker, hint in _WRONG_PORT:
        if marker in text:
            return " (%s)" % hint
    return ""


def answer_hint(status: int, url: str) -> str:
    """Advice for a final answer other than 400/401/403/413.

    >>> answer_hint(404, "http://h/metrics/api/put?details")[:48]
    ' (nothing serves /metrics/api/put at http://h: c'
    """
    if status in (404, 405):
        return (" (nothing serves %s at %s: check the endpoint's path prefix, which "
                "comes before /api/put and /api/query, and its port)"
                % (urlsplit(url).path, _address(url)))
    return ""


def connection_failure(url: str, reason: str) -> str:
    """A connection error with what it most likely means and what to check."""
    lowered = reason.lower()
    if "refused" in lowered:
        return ("nothing answers at %s (connection refused): check the host and port of "
                "the endpoint (api_endpoint / APPTUIT_API_ENDPOINT, query_endpoint / "
                "APPTUIT_QUERY_ENDPOINT) and that the server is running" % _address(url))
    if "resolve" in lowered or "name or service not known" in lowered:
        return ("the host name in %s does not resolve (%s): check the endpoint's host"
                % (_address(url), reason))
    hint = ""
    if url.startswith("http://") and ("reset by peer" in lowered or "aborted" in lowered
                                      or "closed connection" in lowered):
        hint = (" (the server closed the connection without an answer: if it speaks TLS, "
                "use https://)")
    return "connection to %s failed: %s%s" % (url, reason, hint)


def tls_failure(url: str, reason: str) -> str:
    """A TLS error; a plain-HTTP server on the other end is the usual mistake."""
    if "wrong_version_number" in reason.lower() or "record layer failure" in reason.lower():
        return ("TLS error: %s does not speak TLS (%s): use http:// for a plain-HTTP "
                "server" % (_address(url), reason))
    return "TLS error: %s" % reason
