"""Query results as text for people (aligned tables) and for tools (CSV).

Numbers keep full precision (``repr``), whole ones print without a fraction, and
series print as PromQL selectors, ready to paste into a query.

>>> print(text_table(["series", "value"], [['cpu{host="a"}', 0.5], ['load{host="a"}', 12]]))
series          value
--------------  -----
cpu{host="a"}     0.5
load{host="a"}     12
"""
import csv
import datetime
from typing import IO, Any, Iterable, Sequence

from .._query import QueryResult


def format_time(timestamp: float) -> str:
    """UTC wall time of a Unix timestamp.

    >>> format_time(1700000000)
    '2023-11-14 22:13:20'
    """
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def format_number(value: Any) -> str:
    """Whole numbers without a fraction, others in full (``repr``).

    >>> format_number(3.0), format_number(1234567.89), format_number(1795410000.0)
    ('3', '1234567.89', '1795410000')
    >>> format_number(0.1 + 0.2), format_number(None)
    ('0.30000000000000004', '')
    """
    if value is None:
        return ""
    value = float(value)
    if value.is_integer() and abs(value) < 2 ** 53:
        return str(int(value))
    return repr(value)


def selector(series: Any) -> str:
    """A series as a PromQL selector: ``name{key="value", ...}``.

    >>> from apptuit_like import TimeSeries
    >>> selector(TimeSeries("room_temp", {"room": "kitchen", "floor": "1"}))
    'room_temp{floor="1", room="kitchen"}'
    """
    inner = labels(series.tags or {})
    return "%s{%s}" % (series.metric, inner) if inner else series.metric


def labels(tags: Any) -> str:
    """Tags as PromQL label matchers, sorted, values quoted and escaped.

    >>> labels({"room": 'the "big" one', "floor": "1"})
    'floor="1", room="the \\\\"big\\\\" one"'
    """
    return ", ".join('%s="%s"' % (key, str(tags[key]).replace("\\", "\\\\")
                                  .replace('"', '\\"')) for key in sorted(tags))


def plural(count: int, noun: str, nouns: str = "") -> str:
    """``1 point``, ``2 points``; ``nouns`` when the plural is not noun + s.

    >>> plural(1, "point"), plural(3, "point"), plural(2, "series", "series")
    ('1 point', '3 points', '2 series')
    """
    return "%d %s" % (count, noun if count == 1 else nouns or noun + "s")


def text_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An aligned table; columns of numbers are right-aligned."""
    rows = [list(row) for row in rows]
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows)
               for i in range(len(headers))]
    cells = [[format_number(c) if _is_number(c) else str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])]
                     + [line(row) for row in cells])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def print_result(result: QueryResult, out: IO[str]) -> None:
    """Every series of every output: a heading line, then its time/value rows."""
    for output in result:
        out.write("output %s: %s\n" % (output.id, plural(len(output), "series", "series")))
        for series in output:
            out.write("\n%s  (%s)\n" % (selector(series), plural(len(series), "point")))
            table = text_table(["time (UTC)", "value"],
                               [[format_time(t), v] for t, v in series.points()])
            out.write("".join("  " + line + "\n" for line in table.splitlines()))
        out.write("\n")


def write_csv(result: QueryResult, out: IO[str]) -> int:
    """One row per timestamp, one column per series (prefixed by the output id
    when there are several outputs); returns the number of rows."""
    columns, values = [], []
    for output in result:
        for series in output:
            prefix = "%s/" % output.id if len(result) > 1 else ""
            columns.append(prefix + selector(series))
            values.append(dict(series.points()))
    stamps = sorted(set().union(*values)) if values else []
    writer = csv.writer(out)
    writer.writerow(["timestamp", "time_utc"] + columns)
    for stamp in stamps:
        writer.writerow([format_number(stamp), format_time(stamp)]
                        + [format_number(column.get(stamp)) for column in values])
    return len(stamps)
