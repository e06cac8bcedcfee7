"""apptuit_like: a fast, drop-in replacement for the apptuit-py metrics client.

The client alone needs neither pyformance nor the command line:
``apptuit_like.pyformance`` (the reporter) is imported on first use.
"""
import importlib
from typing import Any

from . import apptuit_client, timeseries, utils
from ._client import Apptuit
from ._config import (APPTUIT_PY_TAGS, APPTUIT_PY_TOKEN, DEPRECATED_APPTUIT_PY_TAGS,
                     DEPRECATED_APPTUIT_PY_TOKEN)
from .errors import (ApptuitAuthError, ApptuitConnectionError, ApptuitException,
                     ApptuitQueryConnectionError, ApptuitQueryError, ApptuitQueryTimeout,
                     ApptuitSendException, ApptuitTimeout, ApptuitValueError)
from ._query import Output, QueryResult
from ._retry import RetryPolicy
from .timeseries import DataPoint, TimeSeries, TimeSeriesName
from .version import __version__

__all__ = ["Apptuit", "DataPoint", "TimeSeries", "TimeSeriesName", "ApptuitException",
           "ApptuitSendException", "ApptuitValueError", "ApptuitAuthError",
           "ApptuitConnectionError", "ApptuitTimeout", "ApptuitQueryError",
           "ApptuitQueryConnectionError", "ApptuitQueryTimeout", "Output", "QueryResult",
           "RetryPolicy", "pyformance", "timeseries", "__version__",
           "APPTUIT_PY_TOKEN", "APPTUIT_PY_TAGS", "DEPRECATED_APPTUIT_PY_TOKEN",
           "DEPRECATED_APPTUIT_PY_TAGS", "apptuit_client", "utils"]


def __getattr__(name: str) -> Any:
    # `apptuit_like.pyformance` as an attribute, as apptuit-py users write it,
    # without importing pyformance for users of the client alone (PEP 562).
    if name == "pyformance":
        return importlib.import_module(".pyformance", __name__)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
