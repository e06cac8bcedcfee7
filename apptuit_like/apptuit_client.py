"""apptuit-py's module path ``apptuit.apptuit_client``: the client, its data model
and exceptions, re-exported so that ``from apptuit_like.apptuit_client import
Apptuit, DataPoint`` works as it did."""
from ._client import Apptuit
from ._config import (APPTUIT_PY_TAGS, APPTUIT_PY_TOKEN, DEPRECATED_APPTUIT_PY_TOKEN,
                     MAX_TAGS)
from .errors import ApptuitException, ApptuitSendException
from ._query import Output, QueryResult
from ._sanitize import sanitize_name_apptuit, sanitize_name_prometheus
from .timeseries import DataPoint, TimeSeries, TimeSeriesName

MAX_TAGS_LIMIT = MAX_TAGS
SANITIZERS = {"apptuit": sanitize_name_apptuit, "prometheus": sanitize_name_prometheus}

__all__ = ["Apptuit", "ApptuitException", "ApptuitSendException", "DataPoint", "MAX_TAGS_LIMIT",
           "Output", "QueryResult", "SANITIZERS", "TimeSeries", "TimeSeriesName",
           "APPTUIT_PY_TAGS", "APPTUIT_PY_TOKEN", "DEPRECATED_APPTUIT_PY_TOKEN",
           "sanitize_name_apptuit", "sanitize_name_prometheus"]
