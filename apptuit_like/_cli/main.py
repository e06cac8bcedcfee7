"""The ``apptuit-like`` command: ``demo``, ``send`` and ``query``.

Exit status: 0 success, 1 something failed, 2 usage error. The token is read
from ``APPTUIT_API_TOKEN`` only, never from the command line, where other users
of the machine could see it.
"""
import argparse
import datetime
import io
import logging
import os
import re
import sys
import time
from typing import IO, Any, Iterator, List, Optional

from .. import _config as config
from .._client import Apptuit
from .._encoding import MAX_SECONDS
from ..errors import ApptuitException, ApptuitValueError
from .._hints import counted
from .._query import QueryResult
from ..version import __version__
from .interrupts import Interrupts
from .point_input import read_records
from .send_stream import send_records
from .tables import print_result, write_csv

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RELATIVE = re.compile(r"^-?(\d+(?:\.\d+)?)([smhdw])(?: ago)?$")


def parse_moment(text: str, now: Optional[float] = None) -> float:
    """Unix seconds from ``now``, ``-15m``/``2h ago``, ``-300`` (seconds ago), Unix
    seconds or milliseconds (from 10^10 on, as ``send`` reads them) or ISO 8601
    (UTC unless it says otherwise).

    >>> parse_moment("-2h", now=10000), parse_moment("-300", now=10000)
    (2800.0, 9700.0)
    >>> parse_moment("1700000000"), parse_moment("1700000000500")
    (1700000000.0, 1700000000.5)
    >>> parse_moment("2023-11-14T22:13:20")
    1700000000.0
    """
    now = time.time() if now is None else now
    text = text.strip()
    if text == "now":
        return now
    relative = _RELATIVE.match(text)
    if relative:
        return now - float(relative.group(1)) * _UNITS[relative.group(2)]
    try:
        number = float(text)
    except ValueError:
        pass
    else:   # a bare negative number is seconds ago, never a date in 1969
        if number < 0:
            return now + number
        return number / 1000 if number >= MAX_SECONDS else number
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ApptuitValueError("cannot read the time %r: use now, -15m, 2h ago, Unix "
                                "seconds or ISO 8601" % text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help shows its default, where it has a meaningful one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, [], argparse.SUPPRESS) or not action.help:
            return action.help or ""
        return super()._get_help_string(action) or ""


def _global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """Options every command takes, before or after its name (``default`` is
    SUPPRESS on a command, so the main parser's value stands unless given)."""
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log to stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apptuit-like", formatter_class=_Help,
        description="Send metrics to and query them from Apptuit or any OpenTSDB/PromQL "
        "backend. The token comes from APPTUIT_API_TOKEN.")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    _global_options(parser, False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="run an instrumented demo service against a "
                               "local VictoriaMetrics and read its metrics back",
                               formatter_class=_Help,
                               description="Run an instrumented order service, report "
                               "its metrics, query them back and chart them.")
    _global_options(demo, argparse.SUPPRESS)
    demo.add_argument("--duration", type=_positive, default=20.0, help="seconds")
    demo.add_argument("--plot", default="demo.png", metavar="PNG",
                      help="chart file; needs the 'plot' extra")
    demo.add_argument("--no-plot", dest="plot", action="store_const", const=None,
                      help="skip the chart")
    demo.add_argument("--interval", type=_positive, default=2.0, help=argparse.SUPPRESS)
    demo.add_argument("--wire", choices=["opentsdb", "remote_write", "influx"], default=None,
                      help="the protocol the demo reports over (default: APPTUIT_WIRE, "
                      "else opentsdb)")

    send = commands.add_parser("send", help="send points from files or stdin",
                               formatter_class=_Help,
                               description="Send points read from FILEs (or stdin): "
                               "OpenTSDB telnet lines ('put metric ts value k=v ...'), "
                               "JSON lines, or a JSON array of {metric, timestamp, value, "
                               "tags}. Millisecond timestamps are accepted.")
    _global_options(send, argparse.SUPPRESS)
    send.add_argument("files", nargs="*", metavar="FILE", help="input files ('-': stdin)")
    send.add_argument("--strict", action="store_true",
                      help="stop at the first bad line (points before it are sent)")
    send.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE",
                      help="a global tag for every point (repeatable)")
    send.add_argument("--batch-size", type=int, default=50000, help="points per request")
    send.add_argument("--compression", choices=["gzip", "deflate", "none"], default="gzip",
                      help="request body encoding (remote write: always snappy)")
    _wire_options(send)
    send.add_argument("--sanitize", choices=["prometheus", "apptuit", "none"],
                      default="prometheus", help="name sanitizing")
    _connection_options(send)

    query = commands.add_parser("query", help="run an Apptuit QL or PromQL query",
                                formatter_class=_Help,
                                description="Run an Apptuit QL query (or PromQL with "
                                "--promql) and print the series, or write them as CSV.")
    _global_options(query, argparse.SUPPRESS)
    query.add_argument("query", help="the query text")
    query.add_argument("--promql", action="store_true", help="the query is PromQL")
    query.add_argument("--start", default="-1h", help="now, -15m, 2h ago, Unix seconds "
                       "or milliseconds, or ISO 8601")
    query.add_argument("--end", default="now", help="as --start")
    query.add_argument("--step", default="60", help="PromQL step: seconds or 1m")
    query.add_argument("--csv", metavar="FILE", help="write CSV to FILE ('-': stdout)")
    query.add_argument("--query-endpoint", help="PromQL endpoint (APPTUIT_QUERY_ENDPOINT, "
                       "else --endpoint)")
    _connection_options(query)
    return parser


def _wire_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wire", choices=["opentsdb", "remote_write", "influx"],
                        default=None, help="the receiver's protocol (default: "
                        "APPTUIT_WIRE, else opentsdb); with remote_write --endpoint is the "
                        "remote-write URL")
    parser.add_argument("--influx-database", metavar="DB", help="InfluxDB 1.x database")
    parser.add_argument("--influx-org", metavar="ORG", help="InfluxDB 2 organization")
    parser.add_argument("--influx-bucket", metavar="BUCKET", help="InfluxDB 2 bucket")


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", help="API endpoint (APPTUIT_API_ENDPOINT, else "
                        "hosted Apptuit)")
    parser.add_argument("--retry", type=int, default=2, help="retries")
    parser.add_argument("--timeout", type=_positive, default=None,
                        help="HTTP timeout in seconds (default: APPTUIT_TIMEOUT, else 60)")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text) from None
    if not value > 0:
        raise argparse.ArgumentTypeError("%r must be positive" % text)
    return value


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(_attach_times(sys.argv[1:] if argv is None else argv))
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    interrupts = Interrupts()   # SIGTERM cleans up as Ctrl-C does
    try:
        with interrupts:
            return COMMANDS[args.command](args, sys.stdout, interrupts)
    except ApptuitValueError as err:   # bad option values and bad configuration
        parser.exit(2, "apptuit-like %s: error: %s\n" % (args.command, err))
    except ApptuitException as err:
        sys.stderr.write("apptuit-like %s: %s\n" % (args.command, err))
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\napptuit-like %s: interrupted\n" % args.command)
        return 1


def _attach_times(argv: List[str]) -> List[str]:
    """``--start -30m`` as ``--start=-30m``: argparse takes a value that starts
    with a dash for an option of its own.

    >>> _attach_times(["query", "q", "--start", "-30m", "--end", "now"])
    ['query', 'q', '--start=-30m', '--end', 'now']
    """
    out: List[str] = []
    values = iter(argv)
    for arg in values:
        if arg in ("--start", "--end"):
            value = next(values, None)
            if value is not None and value.startswith("-"):
                out.append("%s=%s" % (arg, value))
                continue
            out += [arg] + ([value] if value is not None else [])
            continue
        out.append(arg)
    return out


def run_demo_command(args: argparse.Namespace, out: IO[str], interrupts: Interrupts) -> int:
    from .demo import run_demo
    return run_demo(args.duration, args.plot, args.interval, out=out, wire=args.wire,
                    interrupts=interrupts)


def run_send(args: argparse.Namespace, out: IO[str], interrupts: Interrupts) -> int:
    tags = dict(_tag(text) for text in args.tag)
    client = Apptuit(api_endpoint=args.endpoint, global_tags=tags or None,
                     sanitize_mode=None if args.sanitize == "none" else args.sanitize,
                     compression=None if args.compression == "none" else args.compression,
                     batch_size=args.batch_size, timeout=args.timeout, wire=args.wire,
                     influx_database=args.influx_database, influx_org=args.influx_org,
                     influx_bucket=args.influx_bucket)
    if client.disabled:
        out.write("APPTUIT_DISABLED is set: nothing sent\n")
        return 0
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    summary = send_records(client, interrupts.checked(_input_records(args.files)),
                           strict=args.strict, retry_count=args.retry,
                           warn=progress.warn if progress else _warn, progress=progress)
    if progress:
        progress.done()
    out.write(str(summary) + "\n")
    return 0 if summary.ok else 1


def _warn(text: str) -> None:
    sys.stderr.write(text + "\n")


class _Progress:
    """One self-rewriting line on a terminal, at most twice a second."""

    def __init__(self, stream: IO[str], every: float = 0.5) -> None:
        self.stream = stream
        self.every = every
        self._next = time.monotonic() + every
        self._shown = False

    def __call__(self, summary: Any) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every
            self.stream.write("\r\x1b[K" + str(summary))
            self.stream.flush()
            self._shown = True

    def warn(self, text: str) -> None:
        self.stream.write(("\r\x1b[K" if self._shown else "") + text + "\n")
        self._shown = False

    def done(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _tag(text: str) -> tuple:
    key, sep, value = text.partition("=")
    if not (sep and key and value):
        raise ApptuitValueError("--tag %r is not KEY=VALUE" % text)
    return key, value


def _input_records(files: List[str]) -> Iterator:
    """Records of each file in turn (stdin for ``-``); bad lines name their file."""
    for name in files or ["-"]:
        if name == "-":   # bytes that are not UTF-8 become bad lines, whatever the locale
            raw = getattr(sys.stdin, "buffer", None)
            yield from read_records(sys.stdin if raw is None else io.TextIOWrapper(
                raw, encoding="utf-8", errors="surrogateescape"))
            continue
        try:
            lines = open(name, encoding="utf-8", errors="surrogateescape")
        except OSError as err:
            raise ApptuitValueError("cannot read %s: %s" % (name, err.strerror)) from None
        with lines:
            yield from read_records(lines, name)


def run_query(args: argparse.Namespace, out: IO[str], interrupts: Interrupts) -> int:
    now = time.time()   # whole seconds: PromQL stamps its points start + k * step
    start, end = int(parse_moment(args.start, now)), int(parse_moment(args.end, now))
    query_endpoint = args.query_endpoint or os.environ.get(config.QUERY_ENDPOINT)
    endpoint = args.endpoint or (query_endpoint if args.promql else None)   # no token needed
    client = Apptuit(api_endpoint=endpoint, query_endpoint=query_endpoint)
    timeout = args.timeout or 180
    if args.promql:
        step = _number_or_text(args.step)
        result: Optional[QueryResult] = client.query_promql(
            args.query, start, end, step=step, retry_count=args.retry, timeout=timeout)
    else:
        result = client.query(args.query, start, end, retry_count=args.retry,
                              timeout=timeout)
    if result is None or not any(len(output) for output in result):
        sys.stderr.write("apptuit-like query: no data between %s and %s\n"
                         % (args.start, args.end))
        return 0
    if args.csv:
        if args.csv == "-":
            write_csv(result, out)
        else:
            with open(args.csv, "w", newline="", encoding="utf-8") as csv_file:
                rows = write_csv(result, csv_file)
            out.write("wrote %s to %s\n" % (counted(rows, "row"), args.csv))
    else:
        print_result(result, out)
    return 0


def _number_or_text(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


COMMANDS = {"demo": run_demo_command, "send": run_send, "query": run_query}
