"""The reporter's own metrics: their names, the registry holding them, and how
a report's outcomes are split between the application's points and these."""
from typing import Dict, List, Tuple

from pyformance import MetricsRegistry
from pyformance.meters import SimpleGauge

from ..timeseries import encode_metric
from .._transport import Outcome
from ._adapter import metrics_of

NUMBER_OF_TOTAL_POINTS = "apptuit.reporter.send.total"
NUMBER_OF_SUCCESSFUL_POINTS = "apptuit.reporter.send.successful"
NUMBER_OF_FAILED_POINTS = "apptuit.reporter.send.failed"
API_CALL_TIMER = "apptuit.reporter.send.time"
NUMBER_OF_INVALID_POINTS = "apptuit.reporter.points.invalid"
NUMBER_OF_BUFFERED_POINTS = "apptuit.reporter.points.buffered"
NUMBER_OF_DROPPED_POINTS = "apptuit.reporter.points.dropped"
FOLDED_SERIES = "apptuit.reporter.series.folded"


def last_points(outcomes: List[Outcome], count: int) -> Tuple[int, int]:
    """(delivered, failed) among the last ``count`` points of a report (its meta
    points), whose outcomes are in sending order. Of a batch refused in part, the
    failures are put to the application's points first: ours are well-formed."""
    ok = failed = 0
    for outcome in reversed(outcomes):
        if count <= 0:
            break
        size = outcome.success + outcome.failed
        take = min(count, size)
        lost = max(0, outcome.failed - (size - take))
        ok, failed, count = ok + take - lost, failed + lost, count - take
    return ok, failed


def meta_registry() -> MetricsRegistry:
    """The reporter's own metrics, every one registered, so that each is sent from
    the first report on and dashboards and alerts never wait for an outage."""
    registry = MetricsRegistry()
    for name in (NUMBER_OF_TOTAL_POINTS, NUMBER_OF_SUCCESSFUL_POINTS, NUMBER_OF_FAILED_POINTS,
                 NUMBER_OF_INVALID_POINTS, NUMBER_OF_BUFFERED_POINTS, NUMBER_OF_DROPPED_POINTS):
        registry.counter(name)
    registry.timer(API_CALL_TIMER)
    return registry


def note_folded(registry: MetricsRegistry, folded: Dict[Tuple[str, str], int]) -> None:
    """Set the gauge of keys folded into overflow series, per metric name (a metric
    that stopped overflowing shows 0)."""
    for key, gauge in list(metrics_of(registry, "gauge").items()):
        if key.startswith(FOLDED_SERIES + "{"):
            gauge.set_value(0)
    for (_, name), count in folded.items():
        key = encode_metric(FOLDED_SERIES, {"metric": name})
        registry.gauge(key, SimpleGauge()).set_value(count)


def stats(registry: MetricsRegistry, folded: Dict[Tuple[str, str], int]) -> Dict[str, int]:
    """The reporter's ``stats()``: its meta counters so far, and the keys folded now."""
    counters = {"sent": NUMBER_OF_SUCCESSFUL_POINTS, "failed": NUMBER_OF_FAILED_POINTS,
                "invalid": NUMBER_OF_INVALID_POINTS, "buffered": NUMBER_OF_BUFFERED_POINTS,
                "dropped": NUMBER_OF_DROPPED_POINTS}
    out = {key: registry.counter(name).get_count() for key, name in counters.items()}
    out["folded"] = sum(folded.values())
    return out
