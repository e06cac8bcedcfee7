"""The pyformance reporter and the process-metrics collector."""
from .apptuit_reporter import ApptuitReporter, default_error_handler
from .process_metrics import ProcessMetrics

__all__ = ["ApptuitReporter", "ProcessMetrics", "default_error_handler"]
