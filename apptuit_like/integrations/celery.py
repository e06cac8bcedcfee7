"""Celery: ``instrument()`` in the module that builds the Celery app, and each task
run is counted by outcome and timed, in every process of a prefork pool.

Series (names before the reporter's sanitizing; ``prefix`` is ``celery``):

- ``{prefix}.tasks`` (counter) and ``{prefix}.task.runtime`` (timer, seconds), tagged
  ``task`` (its name) and ``outcome`` (``success``, ``failure``, ``retry``, or
  another Celery state in lower case);
- ``{prefix}.task.exceptions`` (counter), tagged ``task`` and ``exception``.

A pool child ends with ``os._exit``, which skips ``atexit``; instrumenting also
stops every running reporter when a child shuts down, so its last counts are
published (with ``multiprocess_dir``, the group keeps them).
"""
import time
from typing import Any, Dict, Optional, Tuple

from pyformance.registry import global_registry

from ..pyformance import _lifecycle as lifecycle
from ..pyformance import _adapter
from ..timeseries import encode_metric

__all__ = ["TaskMetrics", "instrument", "disconnect"]


class TaskMetrics:
    """The signal receivers; :func:`instrument` connects one to Celery's signals."""

    def __init__(self, registry: Any = None, prefix: str = "celery") -> None:
        self.registry = registry if registry is not None else global_registry()
        self.prefix = prefix
        self._started: Dict[Any, float] = {}
        self._series: Dict[Tuple[str, str], Tuple[Any, Any]] = {}

    def prerun(self, task_id: Any = None, **_: Any) -> None:
        self._started[task_id] = time.perf_counter()

    def postrun(self, task_id: Any = None, task: Any = None, state: Optional[str] = None,
                **_: Any) -> None:
        started = self._started.pop(task_id, None)
        key = (getattr(task, "name", None) or "unknown", (state or "unknown").lower())
        try:
            counter, timer = self._series[key]
        except KeyError:
            counter, timer = self._series_of(key)
        counter.inc()
        if started is not None:
            _adapter.record_seconds(timer, time.perf_counter() - started)

    def failure(self, sender: Any = None, exception: Optional[BaseException] = None,
                **_: Any) -> None:
        tags = {"task": getattr(sender, "name", None) or "unknown",
                "exception": type(exception).__name__}
        self.registry.counter(encode_metric(self.prefix + ".task.exceptions", tags)).inc()

    def _series_of(self, key: Tuple[str, str]) -> Tuple[Any, Any]:
        tags = {"task": key[0], "outcome": key[1]}
        found = (self.registry.counter(encode_metric(self.prefix + ".tasks", tags)),
                 self.registry.timer(encode_metric(self.prefix + ".task.runtime", tags)))
        self._series[key] = found   # one atomic store: two threads store equal objects
        return found


def instrument(registry: Any = None, *, prefix: str = "celery") -> TaskMetrics:
    """Count and time every task this process runs, from now on.

    >>> from celery import Celery
    >>> from apptuit_like.pyformance import MetricsRegistry
    >>> app, registry = Celery("orders", task_always_eager=True), MetricsRegistry()
    >>> metrics = instrument(registry)
    >>> @app.task(name="orders.ship")
    ... def ship(order_id):
    ...     return order_id
    >>> ship.delay(7).get()
    7
    >>> registry.counter('celery.tasks{"outcome": "success", "task": "orders.ship"}'
    ...                  ).get_count()
    1
    >>> disconnect(metrics)
    """
    from celery import signals
    metrics = TaskMetrics(registry, prefix)
    signals.task_prerun.connect(metrics.prerun, weak=False)
    signals.task_postrun.connect(metrics.postrun, weak=False)
    signals.task_failure.connect(metrics.failure, weak=False)
    signals.worker_process_shutdown.connect(_stop_reporters, weak=False)
    return metrics


def disconnect(metrics: TaskMetrics) -> None:
    """Stop counting into ``metrics``."""
    from celery import signals
    signals.task_prerun.disconnect(metrics.prerun)
    signals.task_postrun.disconnect(metrics.postrun)
    signals.task_failure.disconnect(metrics.failure)


def _stop_reporters(**_: Any) -> None:
    lifecycle.stop_all()
