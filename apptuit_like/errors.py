"""One rooted exception tree: everything the library raises is an ApptuitException.

Bad input and bad configuration are also ``ValueError``; connection failures and
timeouts are also the matching ``requests`` exceptions, so code written for
apptuit-py's ``except requests.exceptions.ConnectionError`` keeps working. A
failure that a ``requests`` exception caused raises a class derived from both
ours and that exact ``requests`` class (:func:`_with_cause`): a read timeout is
an ``ApptuitTimeout`` and a ``requests.exceptions.ReadTimeout``.
"""
import functools
from typing import Any, List, Optional, Type, TypeVar

import requests

__all__ = ["ApptuitException", "ApptuitValueError", "ApptuitSendException", "ApptuitAuthError",
           "ApptuitConnectionError", "ApptuitTimeout", "ApptuitQueryError",
           "ApptuitQueryConnectionError", "ApptuitQueryTimeout"]

_E = TypeVar("_E", bound="ApptuitException")


class ApptuitException(Exception):
    """Root of every exception raised by apptuit_like."""

    def __init__(self, msg: Any = "") -> None:
        super().__init__(msg)
        self.msg = msg

    def __str__(self) -> str:
        return str(self.msg)

    def __repr__(self) -> str:   # apptuit-py's: the message itself
        return str(self)


class ApptuitValueError(ApptuitException, ValueError):
    """Invalid input or configuration: a metric, tag, value, token or option."""


class ApptuitSendException(ApptuitException):
    """A send that did not fully succeed.

    ``status_code`` is the HTTP status (None when no answer came), ``success`` and
    ``failed`` count points, ``errors`` lists ``{"datapoint": ..., "error": ...}``
    entries as the server gave them (or one entry describing a transport failure).

    ``str()`` and ``repr()`` are apptuit-py's: a first line, then one line per
    error, each ending in a newline (with "1 point", where apptuit-py says "1 points").

    >>> e = ApptuitSendException("boom", 400, 1, 1, [{"datapoint": "m{}", "error": "bad"}])
    >>> str(e)
    '1 point failed with status: 400\\nbad error occurred in the datapoint m{}\\n'
    """

    def __init__(self, msg: Any = "", status_code: Optional[int] = None,
                 success: Optional[int] = None, failed: Optional[int] = None,
                 errors: Optional[List[Any]] = None) -> None:
        super().__init__(msg)
        self.status_code = status_code
        self.success = success
        self.failed = failed
        self.errors = list(errors or [])

    def __str__(self) -> str:
        # apptuit-py's layout, but "1 point" (apptuit-py: "1 points")
        noun = "point" if self.failed == 1 else "points"
        lines = ["%s %s failed" % (self.failed, noun)
                 + (" with status: %d" % self.status_code if self.status_code else "")]
        for error in self.errors:
            if isinstance(error, dict) and error.get("datapoint") is not None:
                lines.append("%s error occurred in the datapoint %s"
                             % (error.get("error"), error.get("datapoint")))
            elif isinstance(error, dict):   # no answer came: what happened instead
                lines.append(str(error.get("error")))
            else:
                lines.append(str(error))
        return "".join(line + "\n" for line in lines)


class ApptuitAuthError(ApptuitSendException):
    """The server refused the token (401 or 403). Never retried."""


class ApptuitConnectionError(ApptuitSendException, requests.exceptions.ConnectionError):
    """No connection could be made to the server, after every retry."""


class ApptuitTimeout(ApptuitSendException, requests.exceptions.Timeout):
    """The server did not answer within the timeout, after every retry."""


class ApptuitQueryError(ApptuitException):
    """A query that got no usable answer.

    ``status_code`` is the HTTP status (None when no answer came) and
    ``error_type`` the server's error class when it gave one (PromQL ``errorType``).
    """

    def __init__(self, msg: Any = "", status_code: Optional[int] = None,
                 error_type: Optional[str] = None) -> None:
        super().__init__(msg)
        self.status_code = status_code
        self.error_type = error_type


class ApptuitQueryConnectionError(ApptuitQueryError, requests.exceptions.ConnectionError):
    """No connection could be made to the query endpoint, after every retry."""


class ApptuitQueryTimeout(ApptuitQueryError, requests.exceptions.Timeout):
    """The query endpoint did not answer within the timeout, after every retry."""


@functools.lru_cache(maxsize=None)
def _with_cause(cls: Type[_E], cause: Optional[type]) -> Type[_E]:
    """``cls``, or when a ``requests`` exception class caused the failure, a
    subclass of both (same name), so ``except requests.exceptions.ReadTimeout``
    catches what apptuit-py raised as that exception.

    >>> error = _with_cause(ApptuitTimeout, requests.exceptions.ReadTimeout)("slow")
    >>> isinstance(error, ApptuitTimeout), isinstance(error, requests.exceptions.ReadTimeout)
    (True, True)
    """
    if cause is None or issubclass(cls, cause):
        return cls
    return type(cls.__name__, (cls, cause), {"__module__": cls.__module__,
                                              "__qualname__": cls.__qualname__})
