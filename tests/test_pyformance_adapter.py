"""The pyformance internals the package reads (pyformance/_adapter.py), pinned to
pyformance 0.4: a release that moves them fails here, by name, before anything
reads a wrong value."""
import pyformance
from pyformance import MetricsRegistry

from apptuit_like.pyformance import MetricsRegistry as DropInRegistry
from apptuit_like.pyformance import _adapter


def test_the_installed_pyformance_is_the_release_the_adapter_knows():
    from importlib.metadata import version
    assert version("pyformance").startswith("0.4"), version("pyformance")
    assert pyformance.MetricsRegistry is MetricsRegistry


def test_the_registry_dicts_by_kind_in_dump_order_for_both_registries():
    for registry in (MetricsRegistry(), DropInRegistry()):
        registry.counter("c").inc(2)
        registry.histogram("h").add(3)
        registry.meter("m").mark()
        registry.timer("t")
        registry.gauge("g", default=5)
        assert _adapter.is_registry_like(registry)
        kinds = [(kind, sorted(metrics)) for kind, metrics in _adapter.by_kind(registry)]
        assert kinds == [("counter", ["c"]), ("histogram", ["h"]), ("meter", ["m"]),
                         ("timer", ["t"]), ("gauge", ["g"])]
        assert _adapter.metrics_of(registry, "counter")["c"].get_count() == 2


def test_record_seconds_records_as_timer_time_does():
    for registry in (MetricsRegistry(), DropInRegistry()):
        timer = registry.timer("t")
        _adapter.record_seconds(timer, 0.25)
        _adapter.record_seconds(timer, 0.75)
        assert (timer.get_count(), timer.get_sum(), timer.get_max()) == (2, 1.0, 0.75)
        assert timer.get_mean() == 0.5
