"""Compatibility home of the public sanitizers (``apptuit.utils`` in apptuit-py)."""
from ._config import APPTUIT_PY_TAGS, DEPRECATED_APPTUIT_PY_TAGS
from ._sanitize import sanitize_name_apptuit, sanitize_name_prometheus

__all__ = ["sanitize_name_apptuit", "sanitize_name_prometheus", "strtobool",
           "APPTUIT_PY_TAGS", "DEPRECATED_APPTUIT_PY_TAGS"]


def strtobool(val: str) -> int:
    """1 for a true word (y, yes, t, true, on, 1), 0 for a false one (n, no, f,
    false, off, 0), any case; ValueError otherwise. apptuit-py's helper.

    >>> strtobool("Yes"), strtobool("off")
    (1, 0)
    """
    word = val.lower()
    if word in ("y", "yes", "t", "true", "on", "1"):
        return 1
    if word in ("n", "no", "f", "false", "off", "0"):
        return 0
    raise ValueError("invalid truth value %r" % (val,))
