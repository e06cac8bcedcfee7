"""pyformance 0.4's private attributes, read in this one place.

pyformance has no public way to walk a registry by kind or to record a measured
duration into a timer; these are the attributes its 0.4 release keeps them in
(``tests/test_pyformance_adapter.py`` pins them). The drop-in classes of
``pyformance.metrics`` subclass pyformance's and keep the same attributes.
"""
from typing import Any, Dict, Iterator, Tuple

# the registry's dicts by kind, in dump_metrics() order
KINDS: Tuple[Tuple[str, str], ...] = (
    ("counter", "_counters"), ("histogram", "_histograms"), ("meter", "_meters"),
    ("timer", "_timers"), ("gauge", "_gauges"))
KIND_ATTRS: Dict[str, str] = dict(KINDS)


def is_registry_like(registry: Any) -> bool:
    """True when ``registry`` keeps pyformance's dicts (a registry, or a merged view)."""
    return all(hasattr(registry, attr) for _, attr in KINDS)


def metrics_of(registry: Any, kind: str) -> Dict[str, Any]:
    """The registry's ``{key: metric}`` of one kind (the live dict: copy to iterate)."""
    found: Dict[str, Any] = getattr(registry, KIND_ATTRS[kind])
    return found


def by_kind(registry: Any) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(kind, ``{key: metric}``) for each kind, in dump_metrics() order."""
    for kind, attr in KINDS:
        yield kind, getattr(registry, attr)


def record_seconds(timer: Any, seconds: float) -> None:
    """What ``timer.time()`` records when its context ends, for a duration measured
    elsewhere (a request's, a task's, a send's)."""
    timer._update(seconds)   # pylint: disable=protected-access
