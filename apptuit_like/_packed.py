"""Batches held as their request bodies, compressed as the points come.

A report renders its points a few hundred at a time. Batched as lists, a batch of
50,000 points is 50,000 strings (about 9 MB at 100k series) until it is sent.
Packed, each chunk is encoded and fed to the batch's streaming compressor as
soon as it is rendered, and the batch holds only its body and each point's size
(about a tenth of that). The points are read back out of the body only when
they are needed again: when a 413 halves the batch, or a failed send keeps them
for later. A wire whose body is not a frame of text units (remote write's
snappy block) is batched as lists.

>>> batches = list(pack_batches([['{"a":1}', '{"b":2}'], ['{"c":3}']], 2, None,
...                             ("[", ",", "]"), "gzip"))
>>> [len(batch) for batch in batches], list(batches[0])
([2, 1], ['{"a":1}', '{"b":2}'])
>>> gzip.decompress(batches[0].body)
b'[{"a":1},{"b":2}]'
"""
import gzip
import zlib
from array import array
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple, Union, overload

from ._encoding import compressor, rebatch

__all__ = ["PackedBatch", "pack_batches", "batches", "packed_body"]

Frame = Tuple[str, str, str]   # a body's prefix, separator between units, suffix


class PackedBatch(Sequence[str]):
    """A batch of rendered units (points, or lines) held as its request body:
    ``body`` compressed by ``compression`` (or not, for None), framed by ``frame``.
    Reading it as a sequence decompresses the body and splits the units out."""

    __slots__ = ("body", "compression", "frame", "_sizes")

    def __init__(self, body: bytes, compression: Optional[str], frame: Frame,
                 sizes: "array[int]") -> None:
        self.body = body
        self.compression = compression
        self.frame = frame
        self._sizes = sizes   # each unit's size in bytes, UTF-8 encoded

    def __len__(self) -> int:
        return len(self._sizes)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> List[str]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[str, List[str]]:
        return self.units()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.units())

    def __repr__(self) -> str:
        return "PackedBatch(%d units, %d bytes %s)" % (len(self), len(self.body),
                                                      self.compression or "uncompressed")

    def units(self) -> List[str]:
        """The units, as they were rendered."""
        raw = self.body
        if self.compression == "gzip":
            raw = gzip.decompress(raw)
        elif self.compression == "deflate":
            raw = zlib.decompress(raw)
        prefix, separator, _ = self.frame
        position, step = len(prefix.encode("utf-8")), len(separator.encode("utf-8"))
        out: List[str] = []
        append = out.append
        for size in self._sizes:
            append(raw[position:position + size].decode("utf-8"))
            position += size + step
        return out


class _Packer:
    """One batch being packed: units go into the compressor as they come."""

    __slots__ = ("frame", "compression", "stream", "sizes", "size", "separator")

    def __init__(self, frame: Frame, compression: Optional[str]) -> None:
        self.frame = frame
        self.compression = compression
        self.stream = compressor(compression)
        self.sizes = array("I")
        prefix, separator, suffix = (part.encode("utf-8") for part in frame)
        self.separator = separator
        self.size = len(prefix) + len(suffix)   # of the body before compression
        self.stream.compress(prefix)

    def __len__(self) -> int:
        return len(self.sizes)

    def grown(self, sizes: Sequence[int]) -> int:
        """The body's size with units of ``sizes`` added."""
        separators = len(sizes) - (0 if self.sizes else 1)
        return self.size + sum(sizes) + separators * len(self.separator)

    def add(self, data: bytes, sizes: Sequence[int]) -> None:
        """Add units of ``sizes``, encoded and joined by the separator in ``data``."""
        if self.sizes:
            self.stream.compress(self.separator)
        self.stream.compress(data)
        self.size = self.grown(sizes)
        self.sizes.extend(sizes)

    def finish(self) -> PackedBatch:
        self.stream.compress(self.frame[2].encode("utf-8"))
        return PackedBatch(bytes(self.stream.finish()), self.compression, self.frame,
                           self.sizes)


def _encoded(units: Sequence[str], separator: str) -> Tuple[bytes, List[int]]:
    """``units`` joined by ``separator`` in UTF-8, and each unit's size in bytes."""
    text = separator.join(units)
    data = text.encode("utf-8")
    if len(data) == len(text):   # ASCII, the usual case: sizes are lengths
        return data, list(map(len, units))
    return data, [len(unit.encode("utf-8")) for unit in units]


def _fitting(packer: _Packer, sizes: List[int], room: int, max_bytes: float) -> int:
    """How many leading units of ``sizes`` the batch takes (at most ``room``);
    an empty batch takes at least one, however large."""
    size, step = packer.size, len(packer.separator)
    take = 0
    for unit in sizes[:room]:
        size += unit + (step if take or len(packer) else 0)
        if size > max_bytes:
            break
        take += 1
    return take or (0 if len(packer) else 1)


def pack_batches(chunks: Iterable[List[str]], batch_size: int, max_bytes: Optional[int],
                 frame: Frame, compression: Optional[str]) -> Iterator[PackedBatch]:
    """Chunks of units as packed batches of at most ``batch_size`` units and, when
    ``max_bytes`` is given, bodies of at most that many bytes before compression
    (a single unit larger goes alone): the cuts ``rebatch`` makes.

    >>> [list(b) for b in pack_batches([["ab", "cd", "é"]], 5, 7, ("[", ",", "]"), None)]
    [['ab', 'cd'], ['é']]
    """
    limit = float("inf") if max_bytes is None else max_bytes
    separator = frame[1]
    step = len(separator.encode("utf-8"))
    packer: Optional[_Packer] = None
    for chunk in chunks:
        data, sizes = _encoded(chunk, separator)   # once: a cut slices the bytes
        while sizes:
            if packer is None:
                packer = _Packer(frame, compression)
            room = batch_size - len(packer)
            if len(sizes) <= room and packer.grown(sizes) <= limit:   # the usual case
                packer.add(data, sizes)
                break
            take = _fitting(packer, sizes, room, limit)
            if take:
                cut = sum(sizes[:take]) + (take - 1) * step
                packer.add(data[:cut], sizes[:take])
                data, sizes = data[cut + step:], sizes[take:]
            yield packer.finish()
            packer = None
    if packer is not None:
        yield packer.finish()


def batches(chunks: Iterable[List[Any]], batch_size: int, max_bytes: Optional[int],
            frame: Optional[Frame], compression: Optional[str]) -> Iterator[Sequence[Any]]:
    """Packed batches for a wire with a ``frame``, lists (``rebatch``) otherwise."""
    if frame is None:
        return rebatch(chunks, batch_size, max_bytes)
    return pack_batches(chunks, batch_size, max_bytes, frame, compression)


def packed_body(units: Sequence[Any], frame: Optional[Frame],
                compression: Optional[str]) -> Optional[bytes]:
    """The body of ``units`` when they are a batch packed as the wire would write
    it, else None (the wire renders the body)."""
    if (type(units) is PackedBatch and units.frame == frame
            and units.compression == compression):
        return units.body
    return None
