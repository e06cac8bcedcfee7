"""The bucket series of histograms and timers, for ``histogram_buckets``.

Each histogram or timer key sends, besides its usual fields, one
``<name>.bucket`` series per bucket (``lat_bucket`` once sanitized), tagged
``vmrange="..."`` or ``le="..."`` (see ``_buckets.py``), and a histogram its
``<name>.sum`` (a timer sends its sum already); ``<name>.count`` is there in
both. Counts are cumulative since the metric was made. The series' parts are
rendered once per key and label, as the collector's are.
"""
import logging
from typing import Any, Callable, Dict, Generator, List, Optional, Sequence, Tuple

from .._wire import Wire
from ..timeseries import decode_metric
from . import _buckets
from ._readers import read_buckets

log = logging.getLogger("apptuit_like")

__all__ = ["BucketSeries"]

# (name, tags, fields) -> (name part per field, tags part): the collector's _parts
Parts = Callable[[str, Dict[str, Any], Sequence[str]], Tuple[Tuple[Any, ...], Any]]
_METRICS_PER_CHUNK = 32   # about 1,000 points between GIL hand-overs in le mode


class _Heads:
    """The rendered parts of one key's bucket series."""

    __slots__ = ("name", "tags", "sum", "sum_tags", "labels")

    def __init__(self, name: str, tags: Dict[str, Any],
                 sum_parts: Optional[Tuple[Any, Any]]) -> None:
        self.name, self.tags = name, tags
        self.sum: Any = None
        self.sum_tags: Any = None
        if sum_parts is not None:
            self.sum, self.sum_tags = sum_parts
        # bucket label -> (name part, tags part) of its series, from one _parts call:
        # whether the global tags are in the name part depends on the tags
        self.labels: Dict[str, Tuple[Any, Any]] = {}


class BucketSeries:
    """Renders bucket series in ``mode`` ("vmrange" or "le") through ``wire``,
    with the collector's ``parts`` (prefix, global tags, sanitizing)."""

    def __init__(self, mode: str, parts: Parts, wire: Wire) -> None:
        if mode not in _buckets.MODES:
            raise ValueError("unknown bucket mode %r" % (mode,))
        self.mode = mode
        self._series = _buckets.vmrange_series if mode == "vmrange" else _buckets.le_series
        self._parts = parts
        self._wire = wire
        self._heads: Dict[str, Dict[str, Optional[_Heads]]] = {"histogram": {}, "timer": {}}

    def chunks(self, kind: str, keys: Sequence[str], metrics: Sequence[Any], tail: Any
               ) -> Generator[Tuple[List[Any], int], None, None]:
        """(points, invalid count) for the keys' buckets, a few dozen keys at a time."""
        heads = self._heads[kind]
        if len(heads) > 2 * len(keys) + 1000:   # keys gone since: drop their parts
            current = set(keys)
            self._heads[kind] = heads = {k: h for k, h in heads.items() if k in current}
        for start in range(0, len(keys), _METRICS_PER_CHUNK):
            out: List[Any] = []
            invalid = 0
            for key, metric in zip(keys[start:start + _METRICS_PER_CHUNK],
                                   metrics[start:start + _METRICS_PER_CHUNK]):
                if key in heads:
                    found = heads[key]
                else:
                    found = heads[key] = self._heads_of(kind, key)
                if found is not None:
                    invalid += self.render(found, read_buckets(metric), tail, out)
            yield out, invalid

    def _heads_of(self, kind: str, key: str) -> Optional[_Heads]:
        try:
            name, tags = decode_metric(key)
        except ValueError:
            return None   # the collector warns about this key already
        return self.heads(kind, name, tags)

    def heads(self, kind: str, name: str, tags: Dict[str, Any]) -> Optional[_Heads]:
        """The parts of a metric's bucket series; None (warned) when it cannot
        have them, e.g. the bucket tag would make one tag too many."""
        try:
            sum_parts = None
            if kind == "histogram":
                names, tags_part = self._parts(name, tags, ("sum",))
                sum_parts = (names[0], tags_part)
            heads = _Heads(name, tags, sum_parts)
            self._label_part(heads, "+Inf")   # fails here, once, for too many tags
            return heads
        except ValueError as err:
            log.warning("metric %r sends no buckets: %s", name, err)
            return None

    def _label_part(self, heads: _Heads, label: str) -> Tuple[Any, Any]:
        part = heads.labels.get(label)
        if part is None:
            tags = dict(heads.tags)
            tags[self.mode] = label
            names, tags_part = self._parts(heads.name, tags, ("bucket",))
            part = heads.labels[label] = (names[0], tags_part)
        return part

    def render(self, heads: _Heads, read: Optional[Tuple[Dict[int, int], float]],
               tail: Any, out: List[Any]) -> int:
        """Append the points of one metric's buckets (and a histogram's sum)."""
        if read is None:
            return 0
        counts, total = read
        series = self._series(counts)
        if not series:
            return 0
        parts = [self._label_part(heads, label) for label, _ in series]
        invalid = self._wire.render([name for name, _ in parts], [tags for _, tags in parts],
                                    [count for _, count in series], tail, out, True, 1)
        if heads.sum is not None:
            invalid += self._wire.render([heads.sum], [heads.sum_tags], [total], tail, out,
                                         True, 1)
        return invalid

    def merged(self, metrics: Sequence[Any]) -> Optional[Tuple[Dict[int, int], float]]:
        """The buckets and sum of many metrics together (an overflow series)."""
        reads = [read for read in map(read_buckets, metrics) if read is not None]
        if not reads:
            return None
        return _buckets.merge(counts for counts, _ in reads), sum(t for _, t in reads)
