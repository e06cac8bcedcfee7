"""The reporter wing: ApptuitReporter, its collector, outage buffer, process metrics,
life-cycle hooks and multi-process mode. It depends on the core, never the other way."""
from .apptuit_reporter import ApptuitReporter, default_error_handler
from .process_metrics import ProcessMetrics

__all__ = ["ApptuitReporter", "ProcessMetrics", "default_error_handler"]
