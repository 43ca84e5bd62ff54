"""Crash-safe replacement of small files.

A new version is written to a hidden temp file in the same folder, fsynced,
then renamed over the old one and the folder is fsynced: after a crash at any
moment the file is either the old or the new version.  The temp file's name
does not end in .xmp, so host apps never pick it up; temp files left by a
writer that was killed are removed on the next write to the same folder (only
names of exactly our temp form, `.NAME.photorank-tmp-PID-8HEX`, whose PID no
longer runs).  A path that is a symbolic link keeps being one: the file it
points to is replaced.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from dataclasses import dataclass

TEMP_MARK = ".photorank-tmp-"
TOKEN_BYTES = 4
# The whole name of a temp file of ours: a user's file that merely contains the mark is never touched.
TEMP_NAME = re.compile(rf"\..+{re.escape(TEMP_MARK)}(\d+)-[0-9a-f]{{{2 * TOKEN_BYTES}}}", re.DOTALL)


class ChangedUnderUs(Exception):
    """The file changed between reading and replacing it."""


@dataclass(frozen=True)
class Snapshot:
    """What a file looked like when we read it (None fields: it did not exist)."""

    data: bytes | None
    ident: tuple | None
    mode: int | None


def _ident(st: os.stat_result) -> tuple:
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read(path: str) -> Snapshot:
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except FileNotFoundError:
        return Snapshot(None, None, None)
    return Snapshot(data, _ident(st), stat.S_IMODE(st.st_mode))


def _current_ident(path: str) -> tuple | None:
    try:
        return _ident(os.stat(path))
    except FileNotFoundError:
        return None


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(folder: str) -> None:
    """Remove temp files of writers that no longer run."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        ours = TEMP_NAME.fullmatch(name)
        if ours is None:
            continue
        pid = int(ours.group(1))
        if pid != os.getpid() and not _pid_alive(pid) and os.path.isfile(os.path.join(folder, name)):
            try:
                os.unlink(os.path.join(folder, name))
            except FileNotFoundError:
                pass


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _create_from(temp: str, path: str) -> None:
    # link() refuses to overwrite: a file created meanwhile is never lost.
    try:
        os.link(temp, path)
    except FileExistsError:
        raise ChangedUnderUs(path) from None
    except OSError:  # no hard links on this file system (FAT, some shares)
        if os.path.lexists(path):
            raise ChangedUnderUs(path) from None
        os.replace(temp, path)
        return
    os.unlink(temp)


def replace(path: str, data: bytes, before: Snapshot) -> None:
    """Atomically make path contain data, if it still is as in before.

    Raises ChangedUnderUs when another program changed (or created) the file
    since it was read. A symbolic link stays a link: its target is replaced.
    """
    path = os.path.realpath(path) if os.path.islink(path) else path
    folder = os.path.dirname(os.path.abspath(path))
    clean_stale_temps(folder)
    temp = os.path.join(folder, f".{os.path.basename(path)}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(TOKEN_BYTES)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, before.mode if before.mode is not None else _default_mode())
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if before.data is None:
            # link() refuses to overwrite: a file created meanwhile is never lost.
            _create_from(temp, path)
        else:
            if _current_ident(path) != before.ident:
                raise ChangedUnderUs(path)
            os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder)


def remove(path: str, before: Snapshot) -> None:
    if _current_ident(path) != before.ident:
        raise ChangedUnderUs(path)
    os.unlink(path)
    _fsync_dir(os.path.dirname(os.path.abspath(path)))
