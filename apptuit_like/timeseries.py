"""The data model: encoded metric keys, series names, series and single points.

``encode_metric``/``decode_metric`` turn a metric name plus tags into one registry
key and back, in apptuit-py's format (``name{"k": "v"}``), so keys written by
either library are read by both.
"""
import decimal
import json
import math
import numbers
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .errors import ApptuitValueError

__all__ = ["encode_metric", "decode_metric", "TimeSeriesName", "TimeSeries", "DataPoint"]

Tags = Dict[str, Any]


_KEYS: Dict[Tuple[Any, ...], str] = {}   # (name, *tag items) -> key, all-string tags only
_KEYS_LIMIT = 1 << 14   # ~390 bytes each at two short tags: 6 MB at most
_STR = frozenset([str])


def encode_metric(metric_name: str, metric_tags: Tags) -> str:
    """One registry key holding a metric name and its tags.

    Keys of string tags are remembered (up to 16,384, then forgotten at once):
    an application that encodes the same series on every request pays a tuple
    and a dict lookup, not a JSON encoding. Only all-string tags are kept, so
    ``{"n": 1}`` and ``{"n": True}``, equal as tuples, never share a key.

    >>> encode_metric("order_count", {"city": "ber", "env": "dev"})
    'order_count{"city": "ber", "env": "dev"}'
    """
    try:
        return _KEYS[(metric_name, *metric_tags.items())]
    except (KeyError, AttributeError, TypeError):   # new, not a dict, unhashable
        pass
    key = _encode_metric(metric_name, metric_tags)
    if metric_name.__class__ is str and _STR.issuperset(map(type, metric_tags)) \
            and _STR.issuperset(map(type, metric_tags.values())):
        if len(_KEYS) >= _KEYS_LIMIT:
            _KEYS.clear()
        _KEYS[(metric_name, *metric_tags.items())] = key
    return key


def _encode_metric(metric_name: str, metric_tags: Tags) -> str:
    if not isinstance(metric_name, str) or not metric_name:
        raise ApptuitValueError("metric_name must be a non-empty string, got %r"
                                % (metric_name,))
    if not isinstance(metric_tags, dict):
        raise ApptuitValueError("metric_tags of %r must be a dict, got %r"
                                % (metric_name, type(metric_tags).__name__))
    return metric_name + json.dumps(metric_tags, sort_keys=True)


def decode_metric(encoded_metric_name: str) -> Tuple[str, Tags]:
    """Split a key made by ``encode_metric`` into its name and a new tags dict.

    A key without ``{`` is a plain name. Costs one JSON parse and no cache, so it is
    as fast for the millionth distinct key as for the first.

    >>> decode_metric('order_count{"city": "ber"}')
    ('order_count', {'city': 'ber'})
    """
    if not isinstance(encoded_metric_name, str) or not encoded_metric_name.strip():
        raise ApptuitValueError("Invalid encoded metric name %r" % (encoded_metric_name,))
    brace = encoded_metric_name.find("{")
    if brace < 0:
        return encoded_metric_name.strip(), {}
    name = encoded_metric_name[:brace].strip()
    try:
        tags = json.loads(encoded_metric_name[brace:])
    except ValueError:
        tags = None
    if not name or not isinstance(tags, dict):
        raise ApptuitValueError("Failed to decode the metric key %r: expected "
                                "'name{\"tag\": \"value\", ...}'" % (encoded_metric_name,))
    return name, tags


class TimeSeriesName:
    """A metric name and its tags.

    >>> str(TimeSeriesName("cpu", {"host": "a"}))
    'cpu{"host": "a"}'
    """

    encode_metric = staticmethod(encode_metric)
    decode_metric = staticmethod(decode_metric)

    def __init__(self, metric: str, tags: Optional[Tags]) -> None:
        self.metric = metric
        self.tags = tags

    @property
    def metric(self) -> str:
        return self._metric

    @metric.setter
    def metric(self, metric: str) -> None:
        if not isinstance(metric, str) or not metric:
            raise ApptuitValueError("metric name must be a non-empty string, got %r"
                                    % (metric,))
        self._metric = metric

    @property
    def tags(self) -> Optional[Tags]:
        return self._tags

    @tags.setter
    def tags(self, tags: Optional[Tags]) -> None:
        if tags is not None and not isinstance(tags, dict):
            raise ApptuitValueError("tags of %r must be a dict, got %r"
                                    % (self._metric, type(tags).__name__))
        for key in tags or ():
            if not isinstance(key, str) or not key:
                raise ApptuitValueError("Invalid tag key %r for metric %r"
                                        % (key, self._metric))
        self._tags = tags

    def __str__(self) -> str:
        return self.metric + json.dumps(self.tags or {}, sort_keys=True)

    def __repr__(self) -> str:
        return "TimeSeriesName(%r, %r)" % (self.metric, self.tags)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TimeSeriesName) and self.metric == other.metric
                and (self.tags or {}) == (other.tags or {}))

    def __hash__(self) -> int:
        return hash(str(self))


def _describe(metric: str, tags: Optional[Tags]) -> str:
    tags = tags or {}
    inner = ", ".join("%s:%s" % (k, tags[k]) for k in sorted(tags))
    return "%s{%s}" % (metric, inner)


def _to_number(value: Any, metric: str, tags: Optional[Tags] = None) -> float:
    """``value`` as a float, or a ValueError naming the metric.

    Numbers pass; a numeric string is converted, as apptuit-py does, unless it
    says NaN or infinity, which no backend stores.

    >>> _to_number("3.14", "cpu"), _to_number(2, "cpu")
    (3.14, 2.0)
    >>> _to_number("nan", "cpu", {"host": "a"})
    Traceback (most recent call last):
    ...
    apptuit_like.errors.ApptuitValueError: Invalid value 'nan' for cpu{host:a}: expected a finite number
    """
    if isinstance(value, (numbers.Real, decimal.Decimal)):
        try:
            return float(value)
        except ValueError:   # Decimal("sNaN")
            pass
    if isinstance(value, (str, bytes)):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
        raise ApptuitValueError("Invalid value %r for %s: expected a finite number"
                                % (value, _describe(metric, tags)))
    raise ApptuitValueError("Invalid value %r for %s: expected a number"
                            % (value, _describe(metric, tags)))


class TimeSeries:
    """A series: its name and tags plus parallel lists of timestamps and values.

    >>> series = TimeSeries("queue_depth", {"queue": "orders"})
    >>> series.add_point(1700000000, 3)
    >>> len(series), series.values
    (1, [3.0])
    """

    def __init__(self, metric: str, tags: Optional[Tags], index: Optional[List[Any]] = None,
                 values: Optional[List[Any]] = None) -> None:
        self.name = TimeSeriesName(metric, tags)
        if bool(index) != bool(values) or (index and len(index) != len(values or ())):
            raise ApptuitValueError("TimeSeries %s: index and values must have the same "
                                    "length" % _describe(metric, tags))
        self.timestamps = index or []
        self.values = values or []

    @property
    def metric(self) -> str:
        return self.name.metric

    @property
    def tags(self) -> Optional[Tags]:
        return self.name.tags

    def add_point(self, timestamp: float, value: float) -> None:
        """Append one point; the value must be a number."""
        if value.__class__ is not float:
            value = _to_number(value, self.metric, self.tags)
        self.timestamps.append(timestamp)
        self.values.append(value)

    def points(self) -> Iterable[Tuple[Any, Any]]:
        return zip(self.timestamps, self.values)

    def __len__(self) -> int:
        return len(self.timestamps)

    def __repr__(self) -> str:
        return _describe(self.metric, self.tags)

    __str__ = __repr__


class DataPoint:
    """One value of a metric at a time, in Unix seconds.

    >>> DataPoint("cpu", {"host": "a"}, 1700000000, 0.5)
    cpu{host:a, timestamp: 1700000000, value: 0.500000}
    """

    def __init__(self, metric: str, tags: Optional[Tags], timestamp: float,
                 value: float) -> None:
        self.timeseries_name = TimeSeriesName(metric, tags)
        self.timestamp = timestamp
        self.value = _to_number(value, metric, tags)

    @property
    def metric(self) -> str:
        return self.timeseries_name.metric

    @property
    def tags(self) -> Optional[Tags]:
        return self.timeseries_name.tags

    def __repr__(self) -> str:
        value = ("%f" % self.value) if math.isfinite(self.value) else repr(self.value)
        return "%s, timestamp: %s, value: %s}" % (
            _describe(self.metric, self.tags)[:-1], self.timestamp, value)

    __str__ = __repr__
