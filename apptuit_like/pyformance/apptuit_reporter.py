"""apptuit-py's module path ``apptuit.pyformance.apptuit_reporter``: the reporter,
the names of its meta metrics and the helpers apptuit-py showed there. The
implementation lives in ``pyformance._reporter``; ``Apptuit``, ``MetricsRegistry``,
``ProcessMetrics``, ``Reporter`` and ``ApptuitSendException`` are importable from
here as they were from apptuit-py's module.

>>> from apptuit_like.pyformance.apptuit_reporter import ApptuitReporter, BATCH_SIZE
>>> BATCH_SIZE
50000
"""
from pyformance import MetricsRegistry
from pyformance.reporters.reporter import Reporter

from .._client import Apptuit
from ..errors import ApptuitSendException
from ..timeseries import DataPoint, TimeSeriesName
from ..utils import strtobool
from ._error_handler import default_error_handler
from ._meta_metrics import (API_CALL_TIMER, NUMBER_OF_BUFFERED_POINTS, NUMBER_OF_DROPPED_POINTS,
                            NUMBER_OF_FAILED_POINTS, NUMBER_OF_INVALID_POINTS,
                            NUMBER_OF_SUCCESSFUL_POINTS, NUMBER_OF_TOTAL_POINTS)
from ._reporter import BATCH_SIZE, DISABLE_HOST_TAG, ApptuitReporter
from .process_metrics import ProcessMetrics

__all__ = ["ApptuitReporter", "default_error_handler", "BATCH_SIZE", "DISABLE_HOST_TAG",
           "NUMBER_OF_TOTAL_POINTS", "NUMBER_OF_SUCCESSFUL_POINTS", "NUMBER_OF_FAILED_POINTS",
           "API_CALL_TIMER", "NUMBER_OF_INVALID_POINTS", "NUMBER_OF_BUFFERED_POINTS",
           "NUMBER_OF_DROPPED_POINTS", "DataPoint", "TimeSeriesName", "strtobool"]
