"""Metric-name and tag-key sanitizers, and the validity check used when they are off.

Both sanitizers give exactly the names apptuit-py 2.4.2 gives, so dashboards keep
working. Results are memoized in a plain dict that is emptied when it grows past
``_CACHE_LIMIT`` entries: constant-time for any realistic number of names, and no
unbounded growth for programs that invent names forever.
"""
import re
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from . import _config as config
from .errors import ApptuitValueError

_PROMETHEUS_INVALID_RUN = re.compile(r"[^A-Za-z0-9]+")   # `_` runs collapse too
_APPTUIT_INVALID_RUN = re.compile(r"(?:_|[^-\w./])+")
_VALID = re.compile(r"[-\w./]+")
_CACHE_LIMIT = 1 << 17

Sanitizer = Callable[[str], str]


def _memoized(transform: Sanitizer) -> Sanitizer:
    cache: Dict[str, str] = {}

    def sanitize(name: str) -> str:
        try:
            return cache[name]
        except (KeyError, TypeError):
            pass
        if not isinstance(name, str):
            raise ApptuitValueError("Invalid name %r: expected a string" % (name,))
        if not name:   # as apptuit-py; names and keys are refused empty where points are made
            return name
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        result = cache[name] = transform(name)
        return result

    sanitize.__name__ = transform.__name__
    sanitize.__doc__ = transform.__doc__
    return sanitize


@_memoized
def sanitize_name_prometheus(name: str) -> str:
    """Keep ASCII letters, digits and ``_``; prefix a leading digit with ``_``.

    Every run of other characters and underscores becomes one ``_``.

    >>> sanitize_name_prometheus("7xx.http__errors-total")
    '_7xx_http_errors_total'
    """
    if "0" <= name[0] <= "9":
        name = "_" + name
    return _PROMETHEUS_INVALID_RUN.sub("_", name)


@_memoized
def sanitize_name_apptuit(name: str) -> str:
    """Keep letters (Unicode included), digits, ``-``, ``_``, ``.`` and ``/``.

    Every run of other characters and underscores becomes one ``_``.

    >>> sanitize_name_apptuit("proc.cpu%user  Zeit/Straße")
    'proc.cpu_user_Zeit/Straße'
    """
    return _APPTUIT_INVALID_RUN.sub("_", name)


def is_valid_name(name: object) -> bool:
    """True when ``name`` needs no sanitizing for Apptuit (sanitize_mode=None)."""
    return isinstance(name, str) and _VALID.fullmatch(name) is not None


def _check_unsanitized(name: str) -> str:
    if not is_valid_name(name):
        raise ApptuitValueError(
            "Invalid name %r: with sanitize_mode=None names may only hold letters, "
            "digits, '-', '_', '.' and '/'" % (name,))
    return name


_MODES = {"prometheus": sanitize_name_prometheus, "apptuit": sanitize_name_apptuit}


def get_sanitizer(mode: Optional[str]) -> Sanitizer:
    """The name transform for a sanitize mode: "prometheus", "apptuit" or None.

    With None, names pass unchanged and an invalid one raises ``ValueError``.
    """
    if mode is None:
        return _check_unsanitized
    sanitizer = _MODES.get(mode.lower()) if isinstance(mode, str) else None
    if sanitizer is None:
        raise ApptuitValueError("Invalid sanitize_mode %r: use 'prometheus', 'apptuit' or None"
                                % (mode,))
    return sanitizer


def describe_series(metric: str, tags: Mapping[str, Any]) -> str:
    return "%s{%s}" % (metric, ", ".join("%s=%s" % kv for kv in sorted(tags.items())))


def clean_series(metric: str, tags: Mapping[str, Any], sanitize: Sanitizer
                 ) -> Tuple[str, Dict[str, str], str]:
    """Check and sanitize a series: (name, tags, description for errors). A
    missing or bad tag or name raises ValueError naming the series.

    >>> clean_series("cpu.load", {"host.name": 7}, sanitize_name_prometheus)
    ('cpu_load', {'host_name': '7'}, 'cpu.load{host.name=7}')
    """
    describe = describe_series(metric, tags)
    if not tags:
        raise ApptuitValueError("No tags for %s: every point needs at least one tag; pass "
                                "tags, global_tags or set %s" % (describe, config.TAGS))
    if len(tags) > config.MAX_TAGS:
        raise ApptuitValueError("Too many tags for %s: %d, at most %d are allowed"
                                % (describe, len(tags), config.MAX_TAGS))
    try:
        name = sanitize(metric)
        clean = {sanitize(key): tag_value(key, value) for key, value in tags.items()}
    except ApptuitValueError as err:
        raise ApptuitValueError("%s in %s" % (err, describe)) from None
    return name, clean, describe


def tag_value(key: str, value: object) -> str:
    """A tag value as text; empty and non-scalar values are refused."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
    else:
        text = ""
    if not text:
        raise ApptuitValueError("Invalid value %r of tag %r" % (value, key))
    return text
