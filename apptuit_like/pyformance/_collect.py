"""Registry → rendered points, with every key's series heads computed once.

For each registry key the collector caches the metric object, its reader
(``readers.py``), and the parts of each field's series as the wire renders them
(``prefix + name + "." + field``, sanitized, tags merged): the name part, shared
by every key of a metric, and the key's tags part. A cycle then costs a read of
each metric and one join per point. The cardinality guard and the idle filter
(``cardinality.py``) choose which keys are sent one by one.
"""
import logging
import time
from typing import Any, Callable, Dict, Generator, Iterator, List, Optional, Sequence, Tuple

from pyformance import MetricsRegistry

from ..errors import ApptuitValueError
from .._sanitize import Sanitizer, clean_series
from ..timeseries import decode_metric
from .._wire import Wire, get_wire
from ._cardinality import OVERFLOW_TAGS, Folded, Guard, IdleFilter, fold
from ._adapter import KINDS
from ._bucket_series import BucketSeries
from ._readers import FIELDS, counts_reader, reader_for, warn_failed_read

log = logging.getLogger("apptuit_like")

# Points rendered (about 0.5 ms of work) between GIL hand-overs to application
# threads: a thread waiting for the GIL takes it back within 5 ms, so shorter
# chunks slow the application less and stretch the cycle's wall time more.
_YIELD_POINTS = 256
_HAND_OVER = 0.0001   # sleep(0) would often win the GIL straight back
_BUCKETED = ("histogram", "timer")


class _KindView:
    """One registry dict as parallel lists: keys, metrics, readers (None when one
    call reads every count, ``read_counts``), and per point the name part (shared
    by every series of a metric) and the tags part of its head. These lists are
    the only per-key state the collector keeps."""

    __slots__ = ("keys", "metrics", "readers", "names", "tags", "width", "read_counts",
                 "heads_ok")

    def __init__(self, keys: list, metrics: list, readers: Optional[list], names: list,
                 tags: list, width: int,
                 read_counts: Optional[Callable[[list], list]] = None) -> None:
        self.keys = keys
        self.metrics = metrics
        self.readers = readers
        self.names = names
        self.tags = tags
        self.width = width
        self.read_counts = read_counts
        self.heads_ok = None not in tags


_NO_VIEW = _KindView([], [], [], [], [], 1)


def _has_dicts(registry: Any) -> bool:
    """Whether ``registry`` keeps pyformance's five metric dicts (a merged view
    does too); others are read through ``dump_metrics()``."""
    return isinstance(registry, MetricsRegistry) or all(
        hasattr(registry, attr) for _, attr in KINDS)


def _snapshot(metrics_by_key: Dict[str, Any]) -> Tuple[list, list]:
    """Keys and metrics of a registry dict that other threads may be growing.

    Two flat lists rather than ``list(d.items())``: 100k (key, metric) tuples
    per cycle would be promoted by the GC and trigger full collections.
    """
    for _ in range(3):
        keys, metrics = list(metrics_by_key), list(metrics_by_key.values())
        if len(keys) == len(metrics):
            return keys, metrics
    items = list(metrics_by_key.items())
    return [key for key, _ in items], [metric for _, metric in items]


class Collector:
    """Renders a registry's metrics as points; keeps each key's head parts cached.

    Heads are cached in two parts to keep memory low with many series: the
    metric name part, shared by all series of a metric, and one tags part per key.
    """

    def __init__(self, prefix: str, tags: Optional[Dict[str, str]],
                 sanitize: Sanitizer, wire: Optional[Wire] = None,
                 max_series_per_metric: Optional[int] = None,
                 idle_series_timeout: Optional[float] = None,
                 histogram_buckets: Optional[str] = None) -> None:
        self.prefix = prefix
        self.tags = tags or {}
        self.sanitize = sanitize
        self.wire = wire or get_wire(None)
        self.guard = Guard(max_series_per_metric)
        self.idle = IdleFilter(idle_series_timeout)
        self._overflow: Dict[tuple, tuple] = {}   # (kind, name): parts of its overflow series
        self._views: Dict[str, _KindView] = {}
        self._names: Dict[tuple, Optional[tuple]] = {}
        self._row_heads: Dict[tuple, tuple] = {}
        self._empty: set = set()   # kinds the registry had none of at the last look
        self._rejected: Dict[str, str] = {}   # registry key -> why it cannot be sent
        self._failing: set = set()   # keys whose reading failed, warned about once
        self._shared = _sanitized(self.tags, sanitize)
        self.buckets = (BucketSeries(histogram_buckets, self._parts, self.wire)
                        if histogram_buckets else None)
        self._overflow_buckets: Dict[tuple, Any] = {}   # (kind, name): its bucket heads

    def collect(self, registry: Any, timestamp: int) -> Tuple[List[str], int]:
        """Rendered points of every metric in ``registry`` and the count skipped."""
        chunks = self.chunks(registry, timestamp)
        out: List[str] = []
        while True:
            try:
                out += next(chunks)
            except StopIteration as done:
                return out, done.value

    def chunks(self, registry: Any, timestamp: int) -> Generator[List[str], None, int]:
        """Rendered points in chunks of a few hundred metrics; returns the count of
        values skipped. Between chunks application threads get the GIL."""
        if not _has_dicts(registry):
            dumped, skipped = self._collect_dump(registry, timestamp)
            yield dumped
            return skipped
        tail = self.wire.tail(timestamp)
        render = self.wire.render
        invalid = 0
        for kind, attr in KINDS:
            view, folded = self._sent_view(kind, registry, attr)
            width = view.width
            step = max(1, _YIELD_POINTS // width)
            for start in range(0, len(view.metrics), step):
                if start:
                    time.sleep(_HAND_OVER)   # let application threads take the GIL
                stop = start + step
                out: List[Any] = []
                invalid += render(view.names[start * width:stop * width],
                                  view.tags[start * width:stop * width],
                                  _read(view, start, stop, self._read_failed), tail, out,
                                  view.heads_ok, width)
                yield out
            if self.buckets is not None and kind in _BUCKETED:
                for out, bad in self.buckets.chunks(kind, view.keys, view.metrics, tail):
                    time.sleep(_HAND_OVER)
                    invalid += bad
                    yield out
            if folded:
                yield self._render_overflow(kind, registry, folded, tail)
        return invalid

    def _folded_values(self, kind: str, registry: Any, keys: List[str], metrics: List[Any]
                       ) -> Iterator[Tuple]:
        """Field values of folded metrics, one at a time; a failing read is warned
        once and skipped."""
        read_counts = counts_reader(metrics)
        if read_counts is not None:
            yield from zip(read_counts(metrics))
            return
        for key, metric in zip(keys, metrics):
            reader = reader_for(kind, registry, key, metric)
            try:
                yield reader(metric)
            except Exception as err:   # as for any metric
                self._read_failed(key, err)

    def admit(self, registry: Any, admitted: Any) -> Dict[str, List[str]]:
        """Take a process group's admitted keys (see ``Guard.adopt``), split the
        merged ``registry`` by them, and return the group's choice to keep."""
        self.guard.adopt(admitted)
        for kind, attr in KINDS:
            self.guard.split(kind, *_snapshot(getattr(registry, attr)))
        return self.guard.shared()

    def _render_overflow(self, kind: str, registry: Any, folded: Folded, tail: Any) -> list:
        """One overflow series per metric name, holding what its folded keys add up to."""
        out: list = []
        fields = FIELDS[kind]
        for name, (keys, metrics) in folded.items():
            values = self._folded_values(kind, registry, keys, metrics)
            combined = fold(fields, values)
            parts = self._overflow.get((kind, name))
            if parts is None:
                try:
                    parts = self._overflow[(kind, name)] = self._parts(name, OVERFLOW_TAGS,
                                                                       fields)
                except ValueError:
                    continue
            if combined is not None:
                self.wire.render(parts[0], [parts[1]] * len(fields), combined, tail, out,
                                 True, len(fields))
            if self.buckets is not None and kind in _BUCKETED:
                self._render_overflow_buckets(kind, name, metrics, tail, out)
        return out

    def _render_overflow_buckets(self, kind: str, name: str, metrics: List[Any], tail: Any,
                                 out: list) -> None:
        """The buckets of folded keys, summed into their overflow series' buckets."""
        assert self.buckets is not None
        heads = self._overflow_buckets.get((kind, name), False)
        if heads is False:
            heads = self._overflow_buckets[(kind, name)] = self.buckets.heads(
                kind, name, OVERFLOW_TAGS)
        if heads is not None:
            self.buckets.render(heads, self.buckets.merged(metrics), tail, out)

    def _sent_view(self, kind: str, registry: Any, attr: str) -> Tuple[_KindView, Folded]:
        """The view of the keys sent one by one (under the cap, not idle), and the
        keys folded into overflow series."""
        metrics_by_key = getattr(registry, attr)
        if not metrics_by_key and kind in self._empty:   # as last time: nothing to do
            return _NO_VIEW, {}
        keys, metrics, folded = self.guard.split(kind, *_snapshot(metrics_by_key))
        if keys or folded:
            self._empty.discard(kind)
        else:
            self._empty.add(kind)
        return self._view(kind, registry, *self.idle.active(kind, keys, metrics)), folded

    def _view(self, kind: str, registry: Any, keys: list, metrics: list) -> _KindView:
        """The cached view of a registry dict, rebuilt only when its contents changed;
        keys whose metric object is unchanged keep their reader and head parts."""
        view = self._views.get(kind)
        if view is not None and view.keys == keys and view.metrics == metrics:
            return view   # compared at C speed, by identity element by element
        width = len(FIELDS[kind])
        known = dict(zip(view.keys, range(len(view.keys)))) if view is not None else {}
        read_counts = counts_reader(metrics)   # counters are read all at once: no reader each
        readers: Optional[list] = None if read_counts else []
        names: list = []
        tags: list = []
        for key, metric in zip(keys, metrics):
            i = known.get(key)
            if i is not None and view is not None and view.metrics[i] is metric:
                if readers is not None:
                    readers.append(view.readers[i] if view.readers is not None
                                   else reader_for(kind, registry, key, metric))
                names += view.names[i * width:(i + 1) * width]
                tags += view.tags[i * width:(i + 1) * width]
            else:
                reader, key_names, key_tags = self._entry(kind, registry, key, metric)
                if readers is not None:
                    readers.append(reader)
                names += key_names
                tags += [key_tags] * width
        view = self._views[kind] = _KindView(keys, metrics, readers, names, tags, width,
                                             read_counts)
        return view

    def render_rows(self, rows: Sequence[Tuple[str, Dict[str, str], Any]],
                    timestamp: int) -> Tuple[List[str], int]:
        """Points for ad-hoc (name, tags, value) rows, e.g. process metrics."""
        names, tags = [], []
        for name, row_tags, _ in rows:
            key = (name, tuple(sorted(row_tags.items())))
            if key not in self._row_heads:
                try:
                    self._row_heads[key] = self._parts(name, row_tags, ("",))
                except ValueError as err:
                    log.warning("skipping %s: %s", name, err)
                    self._row_heads[key] = ((None,), None)
            names.append(self._row_heads[key][0][0])
            tags.append(self._row_heads[key][1])
        out: List[Any] = []
        invalid = self.wire.render(names, tags, [row[2] for row in rows],
                                   self.wire.tail(timestamp), out, None not in tags, 1)
        return out, invalid

    def _entry(self, kind: str, registry: Any, key: str, metric: Any) -> tuple:
        reader = reader_for(kind, registry, key, metric)
        try:
            name, tags = decode_metric(key)
            parts = self._parts(name, tags, FIELDS[kind])
        except ValueError as err:
            if key not in self._rejected:   # once: its points are counted as invalid after
                self._rejected[key] = "metric %r cannot be sent: %s" % (key, err)
                log.warning("skipping %s (warned once; its points are counted in "
                            "apptuit_reporter_points_invalid)", self._rejected[key])
            return (reader, (None,) * len(FIELDS[kind]), None)
        self._rejected.pop(key, None)
        return (reader,) + parts

    def _parts(self, name: str, tags: Dict[str, Any], fields: Sequence[str]) -> tuple:
        """(name parts per field, tags part) of a metric; ValueError naming it when
        it cannot be sent (no tags, too many, a name invalid with sanitizing off).

        The global tags go in the name parts, rendered once per metric, unless the
        metric's own tags replace one of them."""
        merged = dict(self.tags)
        merged.update(tags)
        name = self.prefix + name
        first = name + ("." + fields[0] if fields[0] else "")
        clean = clean_series(first, merged, self.sanitize)[1]
        shared = self._shared
        if shared and all(clean.get(key) == value for key, value in shared.items()):
            names = self._field_parts(name, fields, True)
            if names is not None:
                return names, self.wire.own_key_part(
                    {key: value for key, value in clean.items() if key not in shared})
        key_part = self.wire.key_part(name, fields, clean, self.sanitize)
        return self._field_parts(name, fields, False), key_part

    def _field_parts(self, name: str, fields: Sequence[str], shared: bool) -> Optional[tuple]:
        """The wire's name parts of a metric's fields, with the global tags or
        without; None when the wire cannot carry them so."""
        cache_key = (shared, name) + tuple(fields)
        if cache_key not in self._names:
            self._names[cache_key] = (
                self.wire.shared_field_parts(name, fields, self.sanitize, self._shared or {})
                if shared else self.wire.field_parts(name, fields, self.sanitize))
        return self._names[cache_key]

    def _read_failed(self, key: str, err: Exception) -> None:
        warn_failed_read(self._failing, key, err)

    def check(self, registry: Any) -> None:
        """Raise ApptuitValueError naming the first metric of ``registry`` that
        cannot be sent: the synchronous ``report_now`` refuses, as apptuit-py does,
        what the background loop skips and counts."""
        if not _has_dicts(registry):
            return
        for kind, attr in KINDS:
            view, _ = self._sent_view(kind, registry, attr)
            if not view.heads_ok:
                for key, tags_text in zip(view.keys, view.tags[::view.width]):
                    if tags_text is None:
                        raise ApptuitValueError(self._rejected.get(
                            key, "metric %r cannot be sent" % (key,)))

    def _collect_dump(self, registry: Any, timestamp: int) -> Tuple[List[str], int]:
        """Any registry with dump_metrics(): slower, no per-key reader cache."""
        rows = []
        invalid = 0
        for key, fields in registry.dump_metrics().items():
            try:
                name, tags = decode_metric(key)
            except ValueError:
                invalid += len(fields)
                continue
            rows += [(name + "." + field, tags, value) for field, value in fields.items()]
        out, bad = self.render_rows(rows, timestamp)
        return out, invalid + bad


def _sanitized(tags: Dict[str, Any], sanitize: Sanitizer) -> Optional[Dict[str, str]]:
    """Global tags as every series carries them; None when there are none or
    they cannot be sent alone (each series then says why)."""
    try:
        return clean_series("global_tags", tags, sanitize)[1] if tags else None
    except ValueError:
        return None


def _read(view: _KindView, start: int, stop: int,
          failed: Callable[[str, Exception], None]) -> list:
    """Flat field values of metrics [start:stop]; a failing reader gives Nones
    and is reported with its key to ``failed``."""
    metrics = view.metrics[start:stop]
    if view.read_counts:
        return view.read_counts(metrics)
    assert view.readers is not None
    values: list = []
    extend = values.extend
    for offset, (reader, metric) in enumerate(zip(view.readers[start:stop], metrics)):
        try:
            extend(reader(metric))
        except Exception as err:   # a broken metric must not cost the others
            failed(view.keys[start + offset], err)
            extend((None,) * view.width)
    return values
