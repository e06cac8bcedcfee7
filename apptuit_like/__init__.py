"""apptuit_like: a fast, drop-in replacement for the apptuit-py metrics client."""
__version__ = "0.1.0"

from .errors import (ApptuitAuthError, ApptuitConnectionError, ApptuitException,  # noqa: E402
                     ApptuitQueryConnectionError, ApptuitQueryError, ApptuitQueryTimeout,
                     ApptuitSendException, ApptuitTimeout, ApptuitValueError)
from .timeseries import DataPoint, TimeSeries, TimeSeriesName  # noqa: E402
from .query import Output, QueryResult  # noqa: E402
from .client import Apptuit  # noqa: E402
from .retry import RetryPolicy  # noqa: E402
from . import pyformance, timeseries  # noqa: E402

__all__ = ["Apptuit", "DataPoint", "TimeSeries", "TimeSeriesName", "ApptuitException",
           "ApptuitSendException", "ApptuitValueError", "ApptuitAuthError",
           "ApptuitConnectionError", "ApptuitTimeout", "ApptuitQueryError",
           "ApptuitQueryConnectionError", "ApptuitQueryTimeout", "Output", "QueryResult",
           "RetryPolicy", "pyformance", "timeseries", "__version__"]
