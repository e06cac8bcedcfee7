"""Bucket layouts of distributions, and bucket counts kept per histogram.

Percentiles do not add up across hosts; bucket counts do. Every histogram and
timer of this package's registry counts each value into one bucket of a single
fine layout, VictoriaMetrics' (18 log-spaced buckets per decade); both modes the
reporter sends are read from those counts:

- ``"vmrange"``: the non-empty buckets, ``vmrange="1.000e-03...1.136e-03"``, as
  VictoriaMetrics' own clients label them (so series from both sum together);
- ``"le"``: cumulative buckets at ``LE_BOUNDS`` (1, 2.154 and 4.642 times each
  power of ten from 1e-4 to 1e7, every sixth bound of the fine layout, so each
  is an exact sum of fine buckets) and ``+Inf``. Every process and host sends
  the same 35 ``le`` series per metric, so ``sum by (le)`` is exact.

Counts are a sparse ``{index: count}`` dict: ``index(value)`` is the bucket of
a value (an upper bound belongs to the bucket below it, as in VictoriaMetrics;
1e-9 itself goes to ``LOWER``, where VictoriaMetrics puts it one bucket up),
``LOWER`` for values from 0 to 1e-9, ``UPPER`` from 1e18, ``NEGATIVE`` for
negatives (counted in every ``le`` bucket, in no ``vmrange`` one); NaN is not
counted.

>>> counts = {}
>>> for value in (0.0011, 0.0012, 0.3):
...     add(counts, value)
>>> [label for label, _ in vmrange_series(counts)]
['1.000e-03...1.136e-03', '1.136e-03...1.292e-03', '2.783e-01...3.162e-01']
>>> series = dict(le_series(counts))
>>> series["0.001"], series["0.002154"], series["0.4642"], series["+Inf"]
(0, 2, 3, 3)
"""
import math
import operator
import weakref
from itertools import repeat
from operator import itemgetter
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ["MODES", "LE_BOUNDS", "index", "add", "merge", "vmrange_series", "le_series",
           "Estimate", "estimated"]

MODES = ("vmrange", "le")
E10_MIN, E10_MAX, PER_DECADE = -9, 18, 18
COUNT = (E10_MAX - E10_MIN) * PER_DECADE
LOWER, UPPER, NEGATIVE = -1, COUNT, -2
_LE_STEP = 6   # every sixth fine bound: 3 le bounds per decade
_LE_FIRST, _LE_LAST = (-4 - E10_MIN) * PER_DECADE, (7 - E10_MIN) * PER_DECADE
_log10 = math.log10


# A histogram counts *keys*, ceil(18 * log10(value)), which C-level maps compute
# for a whole batch of values at once (``keys``); ``fine`` turns them into bucket
# indexes when read. Keys of values outside the layout clamp to LOWER or UPPER.
_ZERO_KEY, _INF_KEY, _NEGATIVE_KEY = -10 ** 6, 10 ** 6, -10 ** 9
_KEY_SHIFT = -E10_MIN * PER_DECADE - 1   # a key's bucket index is key + this
_first, _mul, _ceil = itemgetter(0), operator.mul, math.ceil
_PER_DECADES = repeat(float(PER_DECADE))


def key(value: float) -> Optional[int]:
    """The key a value is counted under (None for NaN)."""
    if value > 0.0:
        return _INF_KEY if value == math.inf else _ceil(_log10(value) * PER_DECADE)
    if value == 0.0:
        return _ZERO_KEY
    return _NEGATIVE_KEY if value < 0.0 else None


def keys(batch: Sequence[Tuple[float, float]]) -> List[int]:
    """The keys of the values of (value, time) pairs: for positive, finite values
    in C-level maps, else value by value."""
    try:
        return list(map(_ceil, map(_mul, map(_log10, map(_first, batch)), _PER_DECADES)))
    except (ValueError, OverflowError):   # 0, a negative, inf or NaN among them
        return [k for k in map(key, map(_first, batch)) if k is not None]


def fine(counts: Dict[int, int]) -> Dict[int, int]:
    """Counts by key as counts by bucket index."""
    out: Dict[int, int] = {}
    for k, count in counts.items():
        if k == _NEGATIVE_KEY:
            i = NEGATIVE
        else:
            i = k + _KEY_SHIFT
            i = LOWER if i < 0 else UPPER if i >= COUNT else i
        out[i] = out.get(i, 0) + count
    return out


def index(value: float) -> Optional[int]:
    """The bucket of ``value`` (None for NaN): upper bounds are inclusive.

    >>> index(1.0), index(1.05), index(0.0), index(-3.0), index(float("inf"))
    (161, 162, -1, -2, 486)
    """
    k = key(value)
    return None if k is None else next(iter(fine({k: 1})))


def add(counts: Dict[int, int], value: float) -> None:
    """Count ``value`` into ``counts`` (by bucket index)."""
    i = index(value)
    if i is not None:
        counts[i] = counts.get(i, 0) + 1


def merge(parts: Iterable[Dict[int, int]]) -> Dict[int, int]:
    """The bucket counts of many processes (or keys) summed.

    >>> merge([{1: 2, 5: 1}, {5: 3}])
    {1: 2, 5: 4}
    """
    total: Dict[int, int] = {}
    for part in parts:
        for i, count in part.items():
            total[i] = total.get(i, 0) + count
    return total


def merge_flat(flats: Iterable[Sequence[int]]) -> Dict[int, int]:
    """``merge`` of bucket counts held flat, ``[index, count, index, count, ...]``
    as state files keep them, without a dict per list.

    >>> merge_flat([[1, 2, 5, 1], [5, 3]])
    {1: 2, 5: 4}
    """
    total: Dict[int, int] = {}
    get = total.get
    for flat in flats:
        pairs = iter(flat)
        for i, count in zip(pairs, pairs):
            total[i] = get(i, 0) + count
    return total


def _vmrange_labels() -> List[str]:
    # built by repeated multiplication, as VictoriaMetrics' clients build theirs,
    # so the labels match theirs digit for digit
    labels, value = [], 10.0 ** E10_MIN
    step = 10.0 ** (1.0 / PER_DECADE)
    start = "%.3e" % value
    for _ in range(COUNT):
        value *= step
        end = "%.3e" % value
        labels.append(start + "..." + end)
        start = end
    return labels


_VMRANGE = _vmrange_labels()
_VMRANGE_EDGES = {LOWER: "0...%.3e" % 10.0 ** E10_MIN,
                  UPPER: "%.3e...+Inf" % 10.0 ** E10_MAX}
LE_BOUNDS: Tuple[float, ...] = tuple(
    float("%.4g" % 10.0 ** (k / PER_DECADE + E10_MIN))
    for k in range(_LE_FIRST, _LE_LAST + 1, _LE_STEP))
_LE_LABELS = tuple("%.4g" % bound for bound in LE_BOUNDS) + ("+Inf",)


def vmrange_series(counts: Dict[int, int]) -> List[Tuple[str, int]]:
    """(vmrange label, count) of each non-empty bucket, lowest first."""
    out = []
    for i in sorted(counts):
        count = counts[i]
        if count and i != NEGATIVE:
            out.append((_VMRANGE_EDGES.get(i) or _VMRANGE[i], count))
    return out


def le_series(counts: Dict[int, int]) -> List[Tuple[str, int]]:
    """(le label, cumulative count) at every bound of ``LE_BOUNDS`` and ``+Inf``;
    nothing for a metric with no values yet."""
    if not counts:
        return []
    below = [0] * (len(LE_BOUNDS) + 1)   # values per le step: (bound k-1, bound k]
    last = len(LE_BOUNDS)
    for i, count in counts.items():
        if i < _LE_FIRST:   # NEGATIVE and LOWER too
            below[0] += count
        elif i >= _LE_LAST:
            below[last] += count
        else:
            below[(i - _LE_FIRST) // _LE_STEP + 1] += count
    out, running = [], 0
    for label, count in zip(_LE_LABELS, below):
        running += count
        out.append((label, running))
    return out


class Estimate:
    """Bucket counts for a histogram that counts none (pyformance's own classes,
    or another kind of sample): each read spreads the values counted since the
    last one over the buckets in the shape of the reservoir's current sample.
    The counts stay whole, cumulative and equal in total to the histogram's
    count; how they spread is as good as the sample.

    >>> estimate = Estimate()
    >>> estimate.read([1.0, 1.0, 2.0, 4.0], 8) == {161: 4, 167: 2, 172: 2}
    True
    """

    __slots__ = ("counts", "seen", "__weakref__")

    def __init__(self) -> None:
        self.counts: Dict[int, int] = {}
        self.seen = 0

    def read(self, sample: Sequence[float], count: int) -> Dict[int, int]:
        """The counts after ``count`` values in all, ``sample`` drawn from them."""
        if count < self.seen:   # the histogram was cleared
            self.counts, self.seen = {}, 0
        new = int(count) - self.seen
        shape: Dict[int, int] = {}
        for value in sample:
            add(shape, value)
        drawn = sum(shape.values())
        if new > 0 and drawn:
            self.seen += new
            shares = sorted(((new * n / drawn, i) for i, n in shape.items()), reverse=True)
            given = {i: int(share) for share, i in shares}
            # the whole values left over go to the largest remainders
            left = new - sum(given.values())
            for _, i in sorted(shares, key=lambda s: s[0] - int(s[0]), reverse=True)[:left]:
                given[i] += 1
            self.counts = merge([self.counts, given])
        return self.counts


_ESTIMATES: "weakref.WeakKeyDictionary[object, Estimate]" = weakref.WeakKeyDictionary()


def estimated(hist: object, sample: Sequence[float], count: int) -> Dict[int, int]:
    """The :class:`Estimate` of a histogram that counts no buckets itself, kept
    for it (and dropped with it) across reads."""
    estimate = _ESTIMATES.get(hist)
    if estimate is None:
        estimate = _ESTIMATES[hist] = Estimate()
    return estimate.read(sample, count)
