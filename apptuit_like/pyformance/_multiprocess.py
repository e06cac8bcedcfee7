"""Reporters of several processes that share a directory act as one.

Every process writes its registry's state to ``<member>.state`` in the
directory each cycle (atomically: a temporary file, then a rename). One of
them, the leader, holds ``leader.lock`` and sends the merged series; when it
exits or dies the kernel drops its lock and the next process to try takes over.
Every send, the leader's and the final one of each stopping process, happens
under ``send.lock`` and is stamped later than the one before, so the newest
sample is always the most complete.

Each live member holds an ``fcntl`` lock on ``<member>.lock`` for its lifetime;
a state file whose lock is free belongs to a process that has gone. Whoever
sends folds such a file into ``archive.json`` (counts, sums, min/max: what the
process counted for good) and deletes it; its gauges and rates leave with it.
A run of the service is marked by its process group and the start time of the
group's leader: a prefork master and every worker it ever spawns share them,
while systemd, supervisors and a shell's job control start each run in a new
group. A process that joins while no member is alive, from another group than
the one that wrote the archive, starts a new run and clears the old files; one
from the same group (a recycled worker in a gap between workers) continues.
Files are 0600, a directory we create is 0700.
"""
import json
import logging
import os
import secrets
import tempfile
import time
from typing import Any, Dict, List, Optional, Set, Tuple

import psutil

from ..errors import ApptuitException
from ._private_dir import open_private, private_directory
from ._clock import next_stamp
from ._merge import archive_part, check_state
from ._state_file import FORMAT, decode, encode

log = logging.getLogger("apptuit_like")

_ARCHIVE_FORMATS = ("apptuit_like.multiprocess/1", FORMAT)   # /1 archives lack buckets only
_STATE, _LOCK = ".state", ".lock"
_ARCHIVE, _LEADER, _SEND, _MEMBERS = "archive.json", "leader.lock", "send.lock", "members.lock"
# whatever the locale says; a key with a lone surrogate (a file name decoded with
# surrogateescape) comes back as it was, and is sanitized as in one process
_UNICODE_ERRORS = "surrogatepass"
_POLL = 0.02   # seconds between tries of a lock held by another process


def _open_lock(path: str) -> int:
    return open_private(path, os.O_RDWR | os.O_CREAT)


def _try_lock(fd: int) -> bool:
    import fcntl   # here: the package imports where it is missing (ProcessGroup says so)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _lock(fd: int) -> None:
    import fcntl
    fcntl.flock(fd, fcntl.LOCK_EX)


def _write_atomically(path: str, data: Any) -> None:
    """JSON of ``data`` (or ``data`` itself when it is text) into ``path``."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")   # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors=_UNICODE_ERRORS) as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


class ProcessGroup:
    """This process's membership of the group that shares ``directory``.

    Raises ``ApptuitValueError`` when the directory cannot be created or written, or
    is not private to this user (see ``private_dir``).
    """

    def __init__(self, directory: str) -> None:
        _posix_locks()
        _register_fork_hook()
        self.directory = private_directory(directory, "multiprocess_dir")
        self.member: Optional[str] = None
        self._pid = os.getpid()
        self._member_fd: Optional[int] = None
        self._leader_fd: Optional[int] = None
        self._reported_bad: Set[str] = set()

    def __repr__(self) -> str:
        return "ProcessGroup(%r, member=%r, leader=%s)" % (self.directory, self.member,
                                                           self.is_leader)

    @property
    def is_leader(self) -> bool:
        return self._leader_fd is not None

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def join(self) -> None:
        """Become a live member; the first one of a new run clears the old run's files."""
        if self.member is not None:
            return
        with self._locked(_MEMBERS, None):
            if not self._live_members():
                anchor = run_anchor()
                archive = self._read_archive()
                if archive.get("run") != anchor:
                    self._clear()   # stamps go on rising: the new run's samples come last
                    _write_atomically(self._path(_ARCHIVE), dict(
                        _new_archive(), run=anchor, last_stamp_ms=last_stamp(archive)))
            member = "%d-%s" % (os.getpid(), secrets.token_hex(4))
            fd = _open_lock(self._path(member + _LOCK))
            _lock(fd)
            self.member, self._member_fd, self._pid = member, fd, os.getpid()

    def _live_members(self) -> List[str]:
        return [name[:-len(_LOCK)] for name in os.listdir(self.directory)
                if name.endswith(_LOCK) and name not in (_LEADER, _SEND, _MEMBERS)
                and self._alive(name[:-len(_LOCK)])]

    def _alive(self, member: str) -> bool:
        if member == self.member:
            return True
        try:
            fd = open_private(self._path(member + _LOCK), os.O_RDWR)
        except OSError:   # gone, or a symlink, which is never followed
            return False
        try:
            return not _try_lock(fd)
        finally:
            os.close(fd)   # closing drops the lock we may have taken

    def _clear(self) -> None:
        for name in os.listdir(self.directory):
            if name.endswith((_STATE, _LOCK, ".json")) and name != _MEMBERS:
                try:
                    os.unlink(self._path(name))
                except FileNotFoundError:
                    pass

    def write(self, state: Dict[str, Any]) -> None:
        """Publish this process's state for whoever sends next."""
        if self._pid != os.getpid():   # a forked child the fork hook did not reach
            self.forget_after_fork()
        if self.member is None:
            self.join()
        header = {"format": FORMAT, "member": self.member, "pid": os.getpid(),
                  "written": time.time()}
        _write_atomically(self._path("%s%s" % (self.member, _STATE)), encode(header, state))

    def try_lead(self) -> bool:
        """Take the leadership if nobody holds it; True while this process leads."""
        if self._leader_fd is None:
            fd = _open_lock(self._path(_LEADER))
            if _try_lock(fd):
                self._leader_fd = fd
            else:
                os.close(fd)
        return self._leader_fd is not None

    def sending(self, deadline: Optional[float]) -> "_Lock":
        """A context holding ``send.lock``; ``acquired`` is False if the deadline passed."""
        return self._locked(_SEND, deadline)

    def _locked(self, name: str, deadline: Optional[float]) -> "_Lock":
        return _Lock(self._path(name), deadline)

    def collect(self) -> Tuple[List[Tuple[str, float, Dict[str, Any]]], Dict[str, Any]]:
        """Under ``send.lock``: fold exited members into the archive, then return the
        live members' ``(member, written, state)`` and the archive."""
        archive = self._read_archive()
        live = []
        names = sorted(os.listdir(self.directory))
        for name in names:
            if not name.endswith(_STATE):
                continue
            record = self._read_state(name)
            if record is None:
                continue
            member = record["member"]
            if self._alive(member):   # its gauges are tagged with its pid, as process metrics
                live.append((str(record["pid"]), record["written"], record["state"]))
            else:
                self._absorb(archive, member, record)
        # forget absorbed members whose files are gone (written with the next stamp)
        archive["absorbed"] = [m for m in archive["absorbed"] if m + _STATE in names
                               and os.path.exists(self._path(m + _STATE))]
        return live, archive

    def _read_state(self, name: str) -> Optional[Dict[str, Any]]:
        try:
            with os.fdopen(open_private(self._path(name), os.O_RDONLY), encoding="utf-8",
                           errors=_UNICODE_ERRORS) as source:
                record = decode(source.read())
            if "%s%s" % (record.get("member"), _STATE) != name:
                raise ValueError("names another member")
            float(record["written"])
            int(record["pid"])
            state = record["state"]
            check_state(state["user"])
            check_state(state["meta"])
            if not all(isinstance(row, list) and len(row) == 3 and isinstance(row[0], str)
                       and isinstance(row[1], dict) for row in state["rows"]):
                raise ValueError("bad process-metrics rows")
            return record
        except FileNotFoundError:
            return None   # its process absorbed or cleared it a moment ago
        except (OSError, ValueError, TypeError, KeyError) as err:
            if name not in self._reported_bad:
                self._reported_bad.add(name)
                log.warning("multiprocess: skipping %s in %s: %s", name, self.directory,
                            err)
            return None

    def _read_archive(self) -> Dict[str, Any]:
        try:
            with os.fdopen(open_private(self._path(_ARCHIVE), os.O_RDONLY), encoding="utf-8",
                           errors=_UNICODE_ERRORS) as source:
                archive = json.load(source)
            if isinstance(archive, dict) and archive.get("format") in _ARCHIVE_FORMATS:
                archive["format"] = FORMAT
                return archive
            raise ValueError("not an archive of this version")
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as err:
            log.warning("multiprocess: starting a new archive; %s is unreadable: %s",
                        self._path(_ARCHIVE), err)
        return _new_archive()

    def _absorb(self, archive: Dict[str, Any], member: str, record: Dict[str, Any]) -> None:
        # Recorded as absorbed in the same atomic write as its counts, so a crash
        # between that write and the unlinks below can never count it twice.
        if member not in archive["absorbed"]:
            archive_part(record["state"]["user"], archive.setdefault("user", {}))
            archive_part(record["state"]["meta"], archive.setdefault("meta", {}))
            archive["absorbed"].append(member)
            _write_atomically(self._path(_ARCHIVE), archive)
        for suffix in (_STATE, _LOCK):
            try:
                os.unlink(self._path(member + suffix))
            except FileNotFoundError:
                pass

    def stamp(self, archive: Dict[str, Any], given: Optional[int], unit: int,
              deadline: Optional[float]) -> int:
        """Under ``send.lock``: this send's stamp in ms, ``given`` or the clock's,
        later than every earlier send's of the group (see ``clock.next_stamp``)."""
        last = last_stamp(archive)
        stamp = given or next_stamp(last, unit, deadline)
        archive["last_stamp_ms"] = max(last, stamp)
        _write_atomically(self._path(_ARCHIVE), archive)
        return stamp

    def leave(self) -> None:
        """Stop being a member; the next sender folds our last state into the archive."""
        for fd in (self._leader_fd, self._member_fd):
            if fd is not None:
                os.close(fd)
        self._leader_fd = self._member_fd = None
        self.member = None

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's identity. Leaving is safe: flock
        locks belong to the open files, which the parent still holds, so closing
        the child's duplicates never releases them."""
        self.leave()


def _new_archive() -> Dict[str, Any]:
    return {"format": FORMAT, "absorbed": [], "last_stamp_ms": 0}


def last_stamp(archive: Dict[str, Any]) -> int:
    """The group's last stamp in ms; older archives kept whole seconds."""
    if "last_stamp_ms" in archive:
        return int(archive["last_stamp_ms"])
    return int(archive.get("last_stamp", 0)) * 1000


def run_anchor() -> str:
    """This process's process group and the start time of the group's leader."""
    group = os.getpgid(0)
    try:
        started = "%.2f" % psutil.Process(group).create_time()
    except psutil.Error:   # the leader has exited; its group lives on
        started = "gone"
    return "%d@%s" % (group, started)


# Descriptors of the _Locks open in this process. A child forked while another
# thread holds one would inherit it, and with it the flock, which then lasts until
# the child exits: the parent and the child itself (at its final send) would wait
# on a lock nobody releases. The child closes its copies at once.
_OPEN: Set[int] = set()


def _close_inherited() -> None:
    for fd in list(_OPEN):
        try:
            os.close(fd)   # the child's copy only: the parent's still holds the lock
        except OSError:
            pass
    _OPEN.clear()


_hooked = False


def _register_fork_hook() -> None:
    global _hooked
    if not _hooked:
        os.register_at_fork(after_in_child=_close_inherited)
        _hooked = True


def _posix_locks() -> None:
    """Raise where ``fcntl`` is missing (Windows): the rest of the package works there."""
    try:
        import fcntl  # noqa: F401
    except ImportError:
        raise ApptuitException(
            "multiprocess_dir needs a POSIX system (Linux, macOS, BSD): the processes of "
            "a group hold fcntl locks, which this platform lacks; leave multiprocess_dir "
            "(and APPTUIT_MULTIPROCESS_DIR) unset here") from None


class _Lock:
    """``with`` an exclusive lock on a file, tried until ``deadline`` (None: wait)."""

    def __init__(self, path: str, deadline: Optional[float]) -> None:
        self.path = path
        self.deadline = deadline
        self.acquired = False
        self._fd = -1

    def __enter__(self) -> "_Lock":
        self._fd = _open_lock(self.path)
        _OPEN.add(self._fd)
        if self.deadline is None:
            _lock(self._fd)
            self.acquired = True
            return self
        while not _try_lock(self._fd):
            if time.monotonic() >= self.deadline:
                return self
            time.sleep(_POLL)
        self.acquired = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        _OPEN.discard(self._fd)
        os.close(self._fd)
