"""Query answers as Python objects: QueryResult → Output → TimeSeries → DataFrame.

``parse_apptuit`` reads an Apptuit QL answer (``/api/query``), ``parse_promql`` a
PromQL ``/api/v1/query_range`` answer; both keep only the points inside
``[start, end]``. ``Output.to_df`` builds a pandas DataFrame and is the only
place that imports pandas.

>>> answer = b'{"outputs": [{"id": "cpu", "result": [{"metric": "cpu", '\\
...          b'"tags": {"host": "a"}, "dps": [[50, 0.1], [60, 0.5], [120, 0.7]]}]}]}'
>>> result = parse_apptuit(answer, start=60)
>>> result
{start: 60, end: , outputs: cpu}
>>> result["cpu"].series[0].values == result[0].series[0].values == [0.5, 0.7]
True
"""
import datetime
import json
import math
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from .errors import (ApptuitQueryConnectionError, ApptuitQueryError, ApptuitQueryTimeout,
                     ApptuitValueError, _with_cause)
from .timeseries import TimeSeries
from ._transport import Outcome

Moment = Union[int, float, datetime.datetime]
_SNIPPET = 300
_NETWORK_ERRORS = {"connection": ApptuitQueryConnectionError, "timeout": ApptuitQueryTimeout}


class Output:
    """The series that one output of a query produced.

    >>> output = Output("cpu", [TimeSeries("cpu", {"host": "a"}, [60, 120], [0.5, 0.7])])
    >>> output, len(output), output.series[0]
    (Output('cpu', series=1), 1, cpu{host:a})
    >>> output.to_df()
                         cpu{host:a}
    1970-01-01 00:01:00          0.5
    1970-01-01 00:02:00          0.7
    """

    def __init__(self, id: Optional[str] = None,
                 series: Optional[List[TimeSeries]] = None) -> None:
        self.id = id
        self.series: List[TimeSeries] = series if series is not None else []

    def __len__(self) -> int:
        return len(self.series)

    def __iter__(self) -> Iterator[TimeSeries]:
        return iter(self.series)

    def __repr__(self) -> str:
        return "Output(%r, series=%d)" % (self.id, len(self.series))

    def to_df(self, tz: Optional[str] = None) -> Any:
        """A DataFrame: a datetime index (UTC, or converted to ``tz``) and one float
        column per series, named ``metric{tag:value, ...}``; gaps are NaN."""
        pandas = _import_pandas()
        import numpy
        if not self.series:
            return pandas.DataFrame(index=_datetime_index(pandas, [], tz))
        first = self.series[0].timestamps
        stamps: Any = first
        if all(s.timestamps == first for s in self.series):
            data = numpy.array([s.values for s in self.series], dtype=float).T
        else:
            stamps = numpy.unique(numpy.concatenate(
                [numpy.asarray(s.timestamps) for s in self.series]))
            data = numpy.full((len(stamps), len(self.series)), numpy.nan)
            for column, s in enumerate(self.series):
                data[numpy.searchsorted(stamps, s.timestamps), column] = s.values
        return pandas.DataFrame(data.reshape(len(stamps), len(self.series)),
                                index=_datetime_index(pandas, stamps, tz),
                                columns=[str(s) for s in self.series], copy=False)


class QueryResult:
    """Every output of one query, by position and by output id.

    >>> result = QueryResult(start=0)
    >>> result.add(Output("cpu")); result.add(Output("load"))
    >>> result[1] is result["load"], len(result), result.keys()
    (True, 2, ['cpu', 'load'])
    >>> result["disk"]
    Traceback (most recent call last):
    ...
    KeyError: "no output 'disk' in this result; outputs: 'cpu', 'load'"
    """

    def __init__(self, start: Moment, end: Optional[Moment] = None) -> None:
        self.start = start
        self.end = end
        self._outputs: Dict[str, Output] = {}

    def add(self, output: Output) -> None:
        self._outputs[str(output.id)] = output

    def __setitem__(self, key: str, output: Output) -> None:
        output.id = key
        self.add(output)

    def __getitem__(self, key: Union[int, str]) -> Output:
        if isinstance(key, int):
            outputs = list(self._outputs.values())
            try:
                return outputs[key]
            except IndexError:
                raise IndexError("output %d out of range: this result has %d"
                                 % (key, len(outputs))) from None
        try:
            return self._outputs[key]
        except KeyError:
            raise KeyError("no output %r in this result; outputs: %s"
                           % (key, ", ".join(map(repr, self._outputs)))) from None

    def __contains__(self, key: object) -> bool:
        return key in self._outputs

    def __len__(self) -> int:
        return len(self._outputs)

    def __iter__(self) -> Iterator[Output]:
        return iter(self._outputs.values())

    def keys(self) -> List[str]:
        return list(self._outputs)

    def __repr__(self) -> str:
        return "{start: %s, end: %s, outputs: %s}" % (
            self.start, "" if self.end is None else self.end, ", ".join(map(str, self._outputs)))




def parse_apptuit(body: bytes, start: float, end: Optional[float] = None
                  ) -> Optional[QueryResult]:
    """An Apptuit QL answer as a QueryResult; None when it has no outputs."""
    answer = _json(body)
    try:
        outputs = answer["outputs"]
        if not outputs:
            return None
        result = QueryResult(start, end)
        for item in outputs:
            output = Output(str(item["id"]))
            for found in item.get("result") or ():
                stamps, values = _in_range(found["dps"], start, end)
                output.series.append(TimeSeries(found["metric"], found.get("tags") or {},
                                                stamps, values))
            result.add(output)
    except (KeyError, TypeError, IndexError, ValueError) as err:
        raise ApptuitQueryError("Unexpected Apptuit query answer (%s: %s): %s"
                                % (type(err).__name__, err, _snippet(body))) from None
    return result


def parse_promql(body: bytes, expr: str, start: float, end: Optional[float] = None
                 ) -> QueryResult:
    """A PromQL range answer as a QueryResult with one output whose id is ``expr``.

    Each series is named by its ``__name__`` label (by ``expr`` when the query
    dropped it, as ``rate()`` does) and tagged with the other labels.
    """
    answer = _json(body)
    if not isinstance(answer, dict) or answer.get("status") != "success":
        raise _answer_error(answer, body, None)
    output = Output(expr)
    try:
        data = answer["data"]
        if data["resultType"] != "matrix":
            raise ValueError("resultType %r, expected 'matrix'" % data["resultType"])
        for found in data["result"]:
            labels = dict(found["metric"])
            name = labels.pop("__name__", None) or expr
            stamps, values = _in_range(found["values"], start, end)
            output.series.append(TimeSeries(name, labels, stamps, list(map(float, values))))
    except (KeyError, TypeError, IndexError, ValueError) as err:
        raise ApptuitQueryError("Unexpected PromQL answer (%s: %s): %s"
                                % (type(err).__name__, err, _snippet(body))) from None
    result = QueryResult(start, end)
    result.add(output)
    return result


def answer_body(outcome: Outcome) -> bytes:
    """The body of a successful query outcome; otherwise raise what went wrong."""
    if outcome.ok:
        return outcome.body
    if outcome.kind in _NETWORK_ERRORS or outcome.cause is not None:
        cls = _with_cause(_NETWORK_ERRORS.get(outcome.kind, ApptuitQueryError), outcome.cause)
        raise cls("Query failed: " + outcome.message)
    try:
        answer = json.loads(outcome.body) if outcome.body else None
    except ValueError:
        answer = None
    raise _answer_error(answer, outcome.body, outcome.status_code, outcome.message)


def _answer_error(answer: Any, body: bytes, status_code: Optional[int],
                  fallback: str = "") -> ApptuitQueryError:
    """The server's own words: PromQL ``errorType``/``error`` or Apptuit ``error``."""
    error_type, text = None, None
    if isinstance(answer, dict):
        error_type = answer.get("errorType")
        error = answer.get("error", answer.get("message"))
        if isinstance(error, dict):
            error_type = error_type or error.get("type")
            error = error.get("message")
        text = None if error is None else str(error)
    text = text or fallback or _snippet(body)
    status = "HTTP %d: " % status_code if status_code else ""
    kind = "%s: " % error_type if error_type else ""
    return ApptuitQueryError("Query failed: %s%s%s" % (status, kind, text),
                             status_code, error_type)


def query_range(start: Moment, end: Optional[Moment]) -> Tuple[float, Optional[float]]:
    """Unix seconds for ``start`` and ``end`` (numbers or datetimes), checked.

    >>> query_range(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc), None)
    (1704067200, None)
    >>> query_range(10, 5)
    Traceback (most recent call last):
    ...
    apptuit_like.errors.ApptuitValueError: query end 5 is before start 10
    """
    start = _epoch(start, "start")
    end = None if end is None else _epoch(end, "end")
    if end is not None and end < start:
        raise ApptuitValueError("query end %s is before start %s" % (end, start))
    return start, end


def check_step(step: Union[int, float, str]) -> Union[int, float, str]:
    """A PromQL step: positive seconds, or a duration string such as ``"1m"``."""
    if isinstance(step, str) and step.strip():
        return step.strip()
    if isinstance(step, (int, float)) and not isinstance(step, bool) and 0 < step < math.inf:
        return step
    raise ApptuitValueError("PromQL step must be positive seconds or a duration such as "
                            "'1m', got %r" % (step,))


def _epoch(moment: Moment, name: str) -> float:
    if isinstance(moment, datetime.datetime):
        moment = moment.timestamp()
    if (isinstance(moment, bool) or not isinstance(moment, (int, float))
            or not math.isfinite(moment)):
        raise ApptuitValueError("query %s must be Unix seconds or a datetime, got %r"
                                % (name, moment))
    return int(moment) if float(moment).is_integer() else moment


def _in_range(pairs: Sequence[Sequence[Any]], start: float, end: Optional[float]
              ) -> Tuple[List[Any], List[Any]]:
    stamps = [pair[0] for pair in pairs]
    if stamps and (min(stamps) < start or (end is not None and max(stamps) > end)):
        pairs = [pair for pair in pairs
                 if pair[0] >= start and (end is None or pair[0] <= end)]
        stamps = [pair[0] for pair in pairs]
    return stamps, [pair[1] for pair in pairs]


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise ApptuitQueryError("The query answer is not JSON: %s" % _snippet(body)) from None


def _snippet(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text[:_SNIPPET] + ("..." if len(text) > _SNIPPET else "")


def _import_pandas() -> Any:
    try:
        import pandas
    except ImportError as err:
        raise ImportError("to_df() needs pandas, which is optional: install it with "
                          "pip install 'apptuit_like[query]'") from err
    return pandas


def _datetime_index(pandas: Any, stamps: Sequence[Any], tz: Optional[str]) -> Any:
    index = pandas.to_datetime(stamps, unit="s", utc=tz is not None)
    return index.tz_convert(tz) if tz is not None else index
