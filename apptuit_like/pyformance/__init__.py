"""The reporter wing: ApptuitReporter, its collector, outage buffer, process metrics,
life-cycle hooks and multi-process mode, and a faster drop-in ``MetricsRegistry``.
It depends on the core, never the other way."""
from .apptuit_reporter import ApptuitReporter, default_error_handler
from .decorators import count_calls, hist_calls, meter_calls, time_calls
from .metrics import MetricsRegistry
from .process_metrics import ProcessMetrics
from .stop_signals import install_signal_handlers, uninstall_signal_handlers

__all__ = ["ApptuitReporter", "MetricsRegistry", "ProcessMetrics", "default_error_handler",
           "install_signal_handlers", "uninstall_signal_handlers", "time_calls", "count_calls",
           "meter_calls", "hist_calls"]
