"""Wires: how points are written for each kind of receiver.

A wire turns series (a sanitized name, tags, a millisecond or second stamp, a
value) into request bodies. Every wire follows the same two-part scheme the
report cycle relies on: a series is rendered once into *parts* (one per field
of a metric, one per registry key), and each cycle then only joins those parts
with the values and the cycle's stamp. The transport posts the bodies and does
not know which wire made them.

- ``opentsdb``: JSON puts to ``/api/put`` (apptuit-py's wire, the default);
- ``remote_write``: Prometheus remote write 1.0, protobuf in a snappy block;
- ``influx``: InfluxDB line protocol, one line per registry key and cycle.

>>> get_wire("remote_write").name, get_wire(None).name
('remote_write', 'opentsdb')
"""
import abc
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import ApptuitValueError

WIRES = ("opentsdb", "remote_write", "influx")
SKIP = object()   # a field with nothing to report, e.g. min/max of an empty histogram


class Wire(abc.ABC):
    """The interface each wire module implements (see ``opentsdb.py``).

    ``millis``: the wire's stamps are always milliseconds (the reporter then
    stamps in ms whatever the endpoint). ``compressions``: what ``body`` takes.
    ``frame``: (prefix, separator, suffix) when a body is text units joined so,
    which lets a report pack its batches as they are rendered (``packed.py``);
    None when a body is built otherwise.
    """

    name = ""
    content_type = ""
    millis = True
    compressions: Tuple[Optional[str], ...] = ("gzip", None)
    extra_headers: Dict[str, str] = {}
    frame: Optional[Tuple[str, str, str]] = None

    @abc.abstractmethod
    def url(self, endpoint: str) -> str:
        """The URL points are posted to, from the endpoint a user gives."""
        raise NotImplementedError   # pragma: no cover

    def auth_header(self, token: str) -> str:
        return "Bearer " + token

    @abc.abstractmethod
    def field_parts(self, name: str, fields: Sequence[str], sanitize: Any) -> Tuple[Any, ...]:
        """One part per field of metric ``name`` (a field "" is the name alone)."""
        raise NotImplementedError   # pragma: no cover

    @abc.abstractmethod
    def key_part(self, name: str, fields: Sequence[str], tags: Dict[str, str],
                 sanitize: Any) -> Any:
        """The part of one series' tags (already checked and sanitized)."""
        raise NotImplementedError   # pragma: no cover

    def shared_field_parts(self, name: str, fields: Sequence[str], sanitize: Any,
                           shared: Dict[str, str]) -> Optional[Tuple[Any, ...]]:
        """Field parts of metric ``name`` that carry the ``shared`` tags too (a
        reporter's global tags, already sanitized), for series whose
        ``own_key_part`` holds the rest: the shared tags are then rendered once per
        metric, not once per key. None (the default): the wire renders every
        series' tags whole, in ``key_part``."""
        return None

    def own_key_part(self, tags: Dict[str, str]) -> Any:
        """The tags part of a series whose field parts carry the shared tags."""
        raise NotImplementedError   # pragma: no cover - only with shared_field_parts

    @abc.abstractmethod
    def tail(self, timestamp: int) -> Any:
        """The part every point of one cycle shares: its stamp."""
        raise NotImplementedError   # pragma: no cover

    @abc.abstractmethod
    def render(self, names: Sequence[Any], keys: Sequence[Any], values: Sequence[Any],
               tail: Any, out: List[Any], heads_ok: bool, width: int) -> int:
        """Append the units (points, or lines) for ``values``: ``width`` values per
        key, ``names[i]`` and ``keys[i]`` the parts of value i. Return how many
        values were invalid (skipped); a ``SKIP`` value is left out silently."""
        raise NotImplementedError   # pragma: no cover

    @abc.abstractmethod
    def body(self, units: Sequence[Any], compression: Optional[str]) -> bytes:
        """One request body for ``units``."""
        raise NotImplementedError   # pragma: no cover

    def check_compression(self, compression: Optional[str]) -> Optional[str]:
        """The compression the wire's bodies use, given the one asked for."""
        if compression not in self.compressions:
            choices = [repr(c) for c in self.compressions]
            raise ApptuitValueError("Invalid compression %r for the %s wire: use %s" % (
                compression, self.name, " or ".join([", ".join(choices[:-1]), choices[-1]])
                if len(choices) > 1 else choices[0]))
        return compression


def get_wire(name: Optional[str], **options: Any) -> Wire:
    """The wire called ``name`` (None: opentsdb), with its options (influx:
    ``database``, ``org``, ``bucket``). Only the chosen wire's module is
    imported: remote write's snappy library is not needed by the others."""
    name = "opentsdb" if name is None else name
    if not isinstance(name, str) or name.lower() not in WIRES:
        raise ApptuitValueError("Invalid wire %r: use %s" % (
            name, ", ".join(repr(w) for w in WIRES)))
    name = name.lower()
    # pylint: disable=import-outside-toplevel
    if name == "influx":
        from .influx import InfluxWire
        return InfluxWire(**options)
    if options:
        raise ApptuitValueError("The %s wire takes no options, got %s"
                                % (name, ", ".join(sorted(options))))
    if name == "remote_write":
        from .remote_write import RemoteWriteWire
        return RemoteWriteWire()
    from .opentsdb import OpenTSDBWire
    return OpenTSDBWire()
