"""Directories of state on disk (the multi-process directory, the disk buffer):
private to this process's user, and files in them opened without following
symlinks.

Another local user who owns such a directory, or may write to it (a world-writable
``/tmp/metrics``), could plant state whose counts the service would send as its
own, or symlinks the reporter would follow. Such a directory is refused, as ssh
refuses a ``~/.ssh`` others can write.
"""
import os
import stat
import tempfile

from ..errors import ApptuitValueError


def private_directory(path: str, what: str) -> str:
    """The absolute ``path`` of a directory created (mode 0700) or checked: owned by
    this process's user, writable by nobody else, writable by us. ``what`` names the
    setting in the error (ValueError) that says what is wrong and how to fix it.

    >>> import tempfile, os
    >>> private_directory(os.path.join(tempfile.mkdtemp(), "state"), "buffer_dir")[-6:]
    '/state'
    """
    path = os.path.abspath(path)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        found = os.stat(path)
    except OSError as err:
        raise ApptuitValueError("%s %r is not a writable directory: %s"
                                % (what, path, err.strerror or err)) from None
    if not stat.S_ISDIR(found.st_mode):
        raise ApptuitValueError("%s %r is not a writable directory" % (what, path))
    if found.st_uid != os.geteuid():
        raise ApptuitValueError(
            "%s %r belongs to uid %d, not to this process's user (uid %d): another user "
            "could plant state in it. Use a directory of this user's own, or `chown` it"
            % (what, path, found.st_uid, os.geteuid()))
    if found.st_mode & 0o022:
        raise ApptuitValueError(
            "%s %r is writable by group or others (mode %03o): another user could plant "
            "state in it. Run `chmod 700 %s`, or use a new directory (created 0700)"
            % (what, path, stat.S_IMODE(found.st_mode), path))
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ApptuitValueError("%s %r is not a writable directory: %s"
                                % (what, path, err.strerror or err)) from None
    return path


def open_private(path: str, flags: int) -> int:
    """``os.open`` that never follows a symlink and creates files 0600."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
