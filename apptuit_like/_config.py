"""Environment variables and defaults, read when an object is built, never at import.

=========================  =====================================================
``APPTUIT_API_TOKEN``      API token (``APPTUIT_PY_TOKEN`` is the deprecated name)
``APPTUIT_API_ENDPOINT``   where points are sent (default: hosted Apptuit)
``APPTUIT_QUERY_ENDPOINT`` where PromQL queries go (default: the API endpoint)
``APPTUIT_TAGS``           global tags, ``"k1: v1, k2:v2"``
``APPTUIT_TIMEOUT``        default HTTP timeout in seconds (default 60)
``APPTUIT_DISABLED``       a true value turns every send into a no-op
``APPTUIT_DISABLE_HOST_TAG`` a true value stops the reporter adding ``host``
``APPTUIT_MULTIPROCESS_DIR`` the directory of a multi-process reporter group
``APPTUIT_TIMESTAMP_PRECISION`` ``ms`` or ``s``: the reporter's stamps (default: by endpoint)
``APPTUIT_HANDLE_SIGNALS`` a false value: started reporters leave SIGTERM/SIGINT alone
``APPTUIT_SHUTDOWN_TIMEOUT`` seconds the final report may take at a stop (default 5)
``APPTUIT_HISTOGRAM_BUCKETS`` ``vmrange`` or ``le``: histograms and timers send buckets
=========================  =====================================================
"""
import os
import re
import socket
import warnings
from typing import Any, Dict, Mapping, Optional
from urllib.parse import urlsplit

from .errors import ApptuitValueError

DEFAULT_ENDPOINT = "https://api.apptuit.ai"
HOSTED_HOSTS = frozenset(["api.apptuit.ai"])
DEFAULT_TIMEOUT = 60.0
# Docker waits 10 s between SIGTERM and SIGKILL, Kubernetes 30 s by default.
DEFAULT_SHUTDOWN_TIMEOUT = 5.0
DEFAULT_BATCH_SIZE = 50000
# Bytes of uncompressed JSON per request: well under VictoriaMetrics' default
# -opentsdbhttp.maxInsertRequestSize (32 MiB), which it enforces with a 400, not 413.
DEFAULT_MAX_REQUEST_BYTES = 8 * 1024 * 1024
MAX_TAGS = 25

TOKEN = "APPTUIT_API_TOKEN"
DEPRECATED_TOKEN = "APPTUIT_PY_TOKEN"
ENDPOINT = "APPTUIT_API_ENDPOINT"
QUERY_ENDPOINT = "APPTUIT_QUERY_ENDPOINT"
TAGS = "APPTUIT_TAGS"
DEPRECATED_TAGS = "APPTUIT_PY_TAGS"
TIMEOUT = "APPTUIT_TIMEOUT"
DISABLED = "APPTUIT_DISABLED"
DISABLE_HOST_TAG = "APPTUIT_DISABLE_HOST_TAG"
MULTIPROCESS_DIR = "APPTUIT_MULTIPROCESS_DIR"
TIMESTAMP_PRECISION = "APPTUIT_TIMESTAMP_PRECISION"
WIRE = "APPTUIT_WIRE"
BUFFER_DIR = "APPTUIT_BUFFER_DIR"
HANDLE_SIGNALS = "APPTUIT_HANDLE_SIGNALS"
SHUTDOWN_TIMEOUT = "APPTUIT_SHUTDOWN_TIMEOUT"
HISTOGRAM_BUCKETS = "APPTUIT_HISTOGRAM_BUCKETS"
BUCKET_MODES = ("vmrange", "le")
PRECISIONS = ("ms", "s")

# apptuit-py's names for the same variables, exported from the top level.
APPTUIT_PY_TOKEN = TOKEN
APPTUIT_PY_TAGS = TAGS
DEPRECATED_APPTUIT_PY_TOKEN = DEPRECATED_TOKEN
DEPRECATED_APPTUIT_PY_TAGS = DEPRECATED_TAGS

_TAG_KEY = re.compile(r"[-\w./]+\Z")   # apptuit-py's rule for keys from the environment
_TRUE = frozenset(["1", "true", "t", "yes", "y", "on"])
_FALSE = frozenset(["", "0", "false", "f", "no", "n", "off"])


def env_flag(name: str, environ: Optional[Mapping[str, str]] = None) -> bool:
    """True when the variable holds a true value (1/true/yes/on, any case).

    >>> env_flag("X", {"X": "Yes"}), env_flag("X", {})
    (True, False)
    """
    raw = (os.environ if environ is None else environ).get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ApptuitValueError("%s=%r is not a boolean; use 1/true/yes/on or 0/false/no/off"
                            % (name, raw))


def _deprecated_env(name: str, old: str) -> Optional[str]:
    value = os.environ.get(name)
    if not value:
        value = os.environ.get(old)
        if value:
            warnings.warn("The environment variable %s is deprecated, use %s instead"
                          % (old, name), DeprecationWarning, stacklevel=4)
    return value or None


def read_token(token: Optional[str]) -> Optional[str]:
    """The token argument, else ``APPTUIT_API_TOKEN``, else ``APPTUIT_PY_TOKEN``."""
    return token or _deprecated_env(TOKEN, DEPRECATED_TOKEN)


def read_endpoint(endpoint: Optional[str], variable: str = ENDPOINT,
                  default: str = DEFAULT_ENDPOINT) -> str:
    """The endpoint argument, else the variable, else the default; no trailing slash."""
    if endpoint is not None and not endpoint.strip():
        raise ApptuitValueError("Invalid endpoint %r: an empty endpoint; pass None (or leave "
                                "it out) for %s or the default" % (endpoint, variable))
    value = endpoint or os.environ.get(variable) or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApptuitValueError("Invalid endpoint %r: expected http(s)://host[:port][/prefix]"
                                % value)
    return value.rstrip("/")


def is_hosted(endpoint: str) -> bool:
    """True for the hosted Apptuit service, which always needs a token."""
    return (urlsplit(endpoint).hostname or "") in HOSTED_HOSTS


def read_precision(precision: Optional[str], endpoint: str) -> str:
    """The precision argument, else ``APPTUIT_TIMESTAMP_PRECISION``, else ``"s"``
    for hosted Apptuit (whose documentation names Unix seconds only; apptuit-py
    sent whole seconds) and ``"ms"`` for any other endpoint (OpenTSDB 2.x and
    VictoriaMetrics read 13-digit stamps as milliseconds).

    >>> read_precision(None, "https://api.apptuit.ai"), read_precision(None, "http://vm:4242")
    ('s', 'ms')
    """
    value = precision or os.environ.get(TIMESTAMP_PRECISION, "").strip().lower() or None
    if value is None:
        return "s" if is_hosted(endpoint) else "ms"
    if value not in PRECISIONS:
        source = "timestamp_precision" if precision else TIMESTAMP_PRECISION
        raise ApptuitValueError("Invalid %s %r: use 'ms' (milliseconds) or 's' (whole "
                                "seconds)" % (source, value))
    return value


def read_wire(wire: Optional[str]) -> Optional[str]:
    """The wire argument, else ``APPTUIT_WIRE``, else None (OpenTSDB puts)."""
    return wire or os.environ.get(WIRE, "").strip().lower() or None


def read_timeout(timeout: Optional[float]) -> float:
    """The timeout argument, else ``APPTUIT_TIMEOUT``, else 60 seconds."""
    return _read_seconds(timeout, TIMEOUT, DEFAULT_TIMEOUT, "timeout")


def read_shutdown_timeout(timeout: Optional[float]) -> float:
    """The shutdown_timeout argument, else ``APPTUIT_SHUTDOWN_TIMEOUT``, else 5 seconds."""
    return _read_seconds(timeout, SHUTDOWN_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT,
                         "shutdown_timeout")


def read_handle_signals(handle: Optional[bool]) -> bool:
    """The handle_signals argument, else ``APPTUIT_HANDLE_SIGNALS``, else True."""
    if handle is not None:
        return bool(handle)
    return env_flag(HANDLE_SIGNALS) if os.environ.get(HANDLE_SIGNALS, "").strip() else True


def read_histogram_buckets(mode: Optional[str]) -> Optional[str]:
    """The histogram_buckets argument, else ``APPTUIT_HISTOGRAM_BUCKETS``, else
    None; "off" or "none" is None too.

    >>> read_histogram_buckets("LE"), read_histogram_buckets("off")
    ('le', None)
    """
    where = "histogram_buckets"
    if mode is None:
        mode, where = os.environ.get(HISTOGRAM_BUCKETS, ""), HISTOGRAM_BUCKETS
    text = mode.strip().lower() if isinstance(mode, str) else mode
    if text in ("", "off", "none"):
        return None
    if text not in BUCKET_MODES:
        raise ApptuitValueError("Invalid %s %r: use 'vmrange', 'le' or None"
                                % (where, mode))
    return str(text)


def _read_seconds(value: Optional[float], variable: str, default: float, name: str) -> float:
    if value is None:
        raw = os.environ.get(variable)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ApptuitValueError("%s=%r is not a number of seconds"
                                    % (variable, raw)) from None
    if not value > 0:
        raise ApptuitValueError("%s must be a positive number of seconds, got %r"
                                % (name, value))
    return float(value)


def parse_tags(text: str, source: str = TAGS) -> Dict[str, str]:
    """Parse ``"k1: v1, k2:v2"`` into a dict; a malformed pair raises, quoting it.

    >>> parse_tags("env: prod, zone:a ,")
    {'env': 'prod', 'zone': 'a'}
    """
    tags = {}
    for pair in text.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, sep, value = pair.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value or ":" in value:
            raise ApptuitValueError(
                "Invalid %s value %r: cannot parse the pair %r; expected "
                "'key1: value1, key2: value2'" % (source, text, pair))
        if not _TAG_KEY.match(key):
            raise ApptuitValueError(
                "Invalid %s value %r: the tag key %r has a character other than letters, "
                "digits, '-', '_', '.' and '/'" % (source, text, key))
        tags[key] = value
    return tags


def environ_tags() -> Dict[str, str]:
    """Global tags from ``APPTUIT_TAGS`` (or the deprecated ``APPTUIT_PY_TAGS``)."""
    text = _deprecated_env(TAGS, DEPRECATED_TAGS)
    return parse_tags(text) if text else {}


def reporter_tags(tags: Optional[Dict[str, Any]],
                  disable_host_tag: Optional[bool]) -> Optional[Dict[str, Any]]:
    """A reporter's tags: ``APPTUIT_TAGS``, overridden by the ones given, plus
    ``host`` unless disabled (``APPTUIT_DISABLE_HOST_TAG``); None when that leaves
    none, as apptuit-py has it."""
    merged: Dict[str, Any] = environ_tags()
    merged.update(tags or {})
    if disable_host_tag is None:
        disable_host_tag = env_flag(DISABLE_HOST_TAG)
    if not disable_host_tag and merged.get("host") is None:
        merged["host"] = socket.gethostname()
    return merged or None
