"""The outage buffer on disk: units that could not be delivered, kept in SQLite
so that a restart, a crash or a recycled leader loses none of them.

Why SQLite (the standard library's ``sqlite3``, in WAL mode): every write is a
transaction, so a process SIGKILLed at any moment leaves either the whole write
or none of it, and a torn write is rolled back on the next open instead of being
read as garbage; several processes of a group share one file under SQLite's own
locking; and deleting the delivered rows and appending the new failures is one
atomic step. An append-only segment file would need its own checksums, locking
and compaction to give the same.

The file ``outage-buffer.sqlite3`` (0600, in a directory private to the user:
see ``private_dir``) holds one table of units in arrival order. Its format is
versioned with ``PRAGMA user_version``; a file of another version, or one that
SQLite cannot read, is renamed aside with one warning and a new one started.

>>> import tempfile
>>> buffer = DurableBuffer(tempfile.mkdtemp(), "opentsdb", max_bytes=10)
>>> buffer.settle(0, 0, [(0, ["aaaa", "bbbb"])]), buffer.settle(0, 0, [(0, ["cccc"])])
(0, 1)
>>> list(buffer.backlog(lambda: False)), len(buffer)
([['bbbb', 'cccc']], 2)
>>> buffer.settle(2, 1, []), list(buffer.backlog(lambda: False))
(0, [['cccc']])
"""
import logging
import os
import sqlite3
import struct
import threading
import time
import weakref
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

from ..errors import ApptuitValueError
from ._private_dir import open_private, private_directory

log = logging.getLogger("apptuit_like")

FILE = "outage-buffer.sqlite3"
VERSION = 1
_SCHEMA = """CREATE TABLE IF NOT EXISTS units (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    wire TEXT NOT NULL,
    kind TEXT NOT NULL,       -- 't': text (JSON, line protocol), 'b': bytes (remote write)
    unit BLOB NOT NULL,
    size INTEGER NOT NULL)"""
_CHUNK = 4096   # rows read at a time while the backlog is sent


class BufferFailed(Exception):
    """The disk buffer could not be written (disk full, read-only, I/O error)."""


class DurableBuffer:
    """A bounded, oldest-first store of undelivered units on disk, for one wire.

    ``backlog`` streams the stored units, oldest first, remembering which rows it
    gave out; ``settle`` then removes the rows that were delivered and appends
    the units that failed, in one transaction. ``max_bytes`` bounds the units'
    bytes; past it the oldest are dropped, and ``settle`` returns how many.
    """

    def __init__(self, directory: str, wire: str, max_bytes: int) -> None:
        if not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError("max_buffer_bytes must be a positive integer, got %r"
                             % (max_bytes,))
        self.directory = private_directory(directory, "buffer_dir")
        self.path = os.path.join(self.directory, FILE)
        self.wire = wire
        self.max_bytes = max_bytes
        self._taken: List[int] = []   # row ids given out by the last backlog()
        self._lock = threading.Lock()
        self._connection: Optional[sqlite3.Connection] = self._open()
        _register_fork_hooks()
        _OPEN.add(self)

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection, opened again after a fork closed it (see _before_fork)."""
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def __repr__(self) -> str:
        return "DurableBuffer(%r, wire=%r)" % (self.path, self.wire)

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except (sqlite3.DatabaseError, _Foreign) as err:
            rows = [] if isinstance(err, _Foreign) else _readable_rows(self.path)
            aside = "%s.unreadable-%d" % (self.path, int(time.time()))
            log.warning("outage buffer %s cannot be used (%s): moved aside to %s; %d units "
                        "read from it are kept", self.path, err, aside, len(rows))
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                if os.path.lexists(self.path + suffix):
                    os.replace(self.path + suffix, aside + suffix)
            db = self._connect()
            db.executemany("INSERT INTO units (wire, kind, unit, size) VALUES (?, ?, ?, ?)",
                           rows)
            return db

    def _connect(self) -> sqlite3.Connection:
        try:
            os.close(open_private(self.path, os.O_RDWR | os.O_CREAT))   # 0600, no symlink
        except OSError as err:
            raise ApptuitValueError("outage buffer %r cannot be opened: %s%s" % (
                self.path, err.strerror or err, "; it is a symlink, which is never followed"
                if os.path.islink(self.path) else "")) from None
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                             check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")   # a SIGKILL loses no commit
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, VERSION):
                raise _Foreign("written by format version %d, this is %d" % (version, VERSION))
            db.execute(_SCHEMA)
            db.execute("PRAGMA user_version=%d" % VERSION)
            db.execute("SELECT count(*) FROM units").fetchone()
            return db
        except BaseException:
            db.close()
            raise

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM units").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    def _disconnect(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except sqlite3.Error:
                pass
            self._connection = None

    def backlog(self, stopped: Callable[[], bool]) -> Iterator[List[Any]]:
        """Stored units, oldest first, in chunks, until ``stopped()`` says the
        backend stopped taking them. Units of another wire are dropped, warned."""
        self._taken = []
        last = 0
        while not stopped():
            try:
                with self._lock:
                    rows = self._db.execute(
                        "SELECT id, wire, kind, unit FROM units WHERE id > ? ORDER BY id "
                        "LIMIT ?", (last, _CHUNK)).fetchall()
            except sqlite3.Error as err:   # settle() then fails too, and memory takes over
                log.warning("outage buffer %s cannot be read: %s", self.path, err)
                return
            if not rows:
                return
            units, foreign = [], []
            for row_id, wire, kind, unit in rows:
                last = row_id
                if wire != self.wire:
                    foreign.append(row_id)
                    continue
                self._taken.append(row_id)
                units.append(unit.decode("utf-8") if kind == "t" else bytes(unit))
            if foreign:
                self._drop_foreign(foreign)
            yield units

    def _drop_foreign(self, ids: List[int]) -> None:
        """Units another wire wrote (the reporter's wire was changed): this
        endpoint cannot take them."""
        log.warning("outage buffer %s: dropping %d units of another wire; this reporter "
                    "sends %s", self.path, len(ids), self.wire)
        try:
            with self._lock:
                self._db.executemany("DELETE FROM units WHERE id = ?", ((i,) for i in ids))
        except sqlite3.Error as err:
            raise BufferFailed("outage buffer %s: %s" % (self.path, err)) from err

    def settle(self, taken: int, done: int, keep: Sequence[Tuple[int, Sequence[Any]]]) -> int:
        """After a send: of the ``taken`` leading units (the backlog given out),
        the first ``done`` are gone (delivered or refused for good); ``keep`` holds
        (position, units) of every retryable failure, of which those past the
        backlog are appended. Returns the count of units dropped to stay bounded."""
        new = past(keep, taken)
        ids = self._taken[:done] if done else []
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if ids:
                        self._db.execute("DELETE FROM units WHERE id <= ?", (ids[-1],))
                    self._db.executemany(
                        "INSERT INTO units (wire, kind, unit, size) VALUES (?, ?, ?, ?)",
                        (_row(self.wire, unit) for unit in new))
                    dropped = self._trim()
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as err:
            raise BufferFailed("outage buffer %s: %s" % (self.path, err)) from err
        self._taken = []
        return dropped

    def salvage(self, done: int) -> List[Any]:
        """Every stored unit but the ``done`` first ones given out, for a buffer in
        memory to take over when this one cannot be written; [] when unreadable."""
        skip = set(self._taken[:done])
        try:
            return [unit for chunk in self._chunks() for row_id, unit in chunk
                    if row_id not in skip]
        except sqlite3.Error:
            return []

    def _chunks(self) -> Iterator[List[Tuple[int, Any]]]:
        last = 0
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT id, kind, unit FROM units WHERE id > ? AND wire = ? "
                    "ORDER BY id LIMIT ?", (last, self.wire, _CHUNK)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [(row_id, unit.decode("utf-8") if kind == "t" else bytes(unit))
                   for row_id, kind, unit in rows]

    def _trim(self) -> int:
        """Drop the oldest units past ``max_bytes``; the caller holds a transaction."""
        total = self._db.execute("SELECT coalesce(sum(size), 0) FROM units").fetchone()[0]
        if total <= self.max_bytes:
            return 0
        dropped = 0
        cursor = self._db.execute("SELECT id, size FROM units ORDER BY id")
        last = 0
        for row_id, size in cursor:
            if total <= self.max_bytes:
                break
            total -= size
            dropped += 1
            last = row_id
        self._db.execute("DELETE FROM units WHERE id <= ?", (last,))
        return dropped


# A connection must not cross a fork: a child closing its copy may checkpoint the
# WAL and remove it under the parent. So the connections close before any fork
# (waiting for an operation under way) and each process opens its own when next
# needed.
_OPEN: "weakref.WeakSet[DurableBuffer]" = weakref.WeakSet()
_HELD: List[DurableBuffer] = []


def _before_fork() -> None:
    for buffer in list(_OPEN):
        buffer._lock.acquire()   # pylint: disable=protected-access
        _HELD.append(buffer)
        buffer._disconnect()   # pylint: disable=protected-access


def _after_fork() -> None:
    while _HELD:
        _HELD.pop()._lock.release()   # pylint: disable=protected-access


_hooked = False
_hooking = threading.Lock()


def _register_fork_hooks() -> None:
    """Once (twice, the second would wait on the locks the first took), when the
    first buffer opens: no hooks in a process that has none."""
    global _hooked
    with _hooking:
        if not _hooked and hasattr(os, "register_at_fork"):
            os.register_at_fork(before=_before_fork, after_in_parent=_after_fork,
                                after_in_child=_after_fork)
            _hooked = True


def _readable_rows(path: str) -> List[Tuple[str, str, bytes, int]]:
    """The rows of a damaged buffer file that can still be read, in order, up to
    the first damaged page (SQLite checks each page it reads: no garbage passes).

    A truncated file is read from a copy padded to the size its header names:
    SQLite refuses a file shorter than that outright, and reads the pages before
    the cut from the copy, stopping at the first zeroed one.
    """
    rows: List[Tuple[str, str, bytes, int]] = []
    copy = path + ".salvage"
    try:
        with open(path, "rb") as source:
            data = source.read()
        if not data.startswith(b"SQLite format 3\x00") or len(data) < 100:
            return rows
        page = struct.unpack(">H", data[16:18])[0]
        size = (65536 if page == 1 else page) * struct.unpack(">I", data[28:32])[0]
        with os.fdopen(open_private(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as out:
            out.write(data + b"\x00" * max(0, size - len(data)))
        db = sqlite3.connect("file:%s?mode=ro" % copy, uri=True)
        try:
            for row in db.execute("SELECT wire, kind, unit, size FROM units ORDER BY id"):
                if row[1] in ("t", "b") and isinstance(row[2], bytes) and row[3] == len(row[2]):
                    rows.append(row)
        finally:
            db.close()
    except (OSError, sqlite3.Error, struct.error):
        pass
    finally:
        if os.path.lexists(copy):
            os.unlink(copy)
    return rows


class _Foreign(Exception):
    """A buffer file of another format version."""


def past(keep: Sequence[Tuple[int, Sequence[Any]]], taken: int) -> List[Any]:
    """The units of ``keep`` ((position, units) pairs) at positions ``taken`` on."""
    return [unit for position, units in keep for offset, unit in enumerate(units)
            if position + offset >= taken]


def _row(wire: str, unit: Any) -> Tuple[str, str, bytes, int]:
    if isinstance(unit, bytes):
        return wire, "b", unit, len(unit)
    data = unit.encode("utf-8")
    return wire, "t", data, len(data)
