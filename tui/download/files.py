"""The `.part` file beside the target, opened and finished safely.

A fresh `.part` is created with `O_CREAT | O_EXCL | O_NOFOLLOW`, so neither a
file nor a symlink already there is ever written through: when `NAME` or
`NAME.part` exists, the next numbered name (`NAME (1).ext`) is taken. A resume
reopens a `.part` of ours (its path comes from the earlier attempt) with
`O_NOFOLLOW`, and only a regular file. The finished file gets its name by
`os.link` + `unlink`, which never replaces a file that appeared meanwhile.
Mode 0o644 (before the umask): a download is an ordinary file, readable as
any file the user fetches with a browser or curl.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tui.download.failures import NoFreeName, NoRoom, UnsafePart
from tui.download.names import MAX_NAME_BYTES, fit

PART_SUFFIX = ".part"
MODE = 0o644
MAX_NUMBER = 999
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO put where the `.part` was would block the open until a reader came.
REOPEN_FLAGS = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})
"""What `link` says on file systems without hard links (FAT, some FUSE mounts)."""


@dataclass
class PartFile:
    """An open `.part` (write-only, positioned at its end) and its bytes so far."""

    path: Path
    fd: int
    offset: int

    @property
    def target(self) -> Path:
        return self.path.with_name(self.path.name.removesuffix(PART_SUFFIX))


def open_part(folder: Path, name: str) -> PartFile:
    """A new, empty `.part` for `name` (a safe component) in `folder`."""
    for candidate in _candidates(name):
        if os.path.lexists(folder / candidate):  # a link, even a dangling one, counts
            continue
        path = folder / (candidate + PART_SUFFIX)
        try:
            fd = os.open(path, CREATE_FLAGS, MODE)
        except FileExistsError:
            continue  # a file or a symlink, dangling or not: not ours
        return PartFile(path, fd, 0)
    raise NoFreeName(folder, name)


def reopen_part(path: Path) -> PartFile:
    """Our `.part` of an earlier attempt, to append to."""
    try:
        fd = os.open(path, REOPEN_FLAGS)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise UnsafePart(path) from error
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePart(path)
    return PartFile(path, fd, os.lseek(fd, 0, os.SEEK_END))


def restart(part: PartFile) -> None:
    """Empty the `.part`: the server sends the whole file again."""
    os.ftruncate(part.fd, 0)
    os.lseek(part.fd, 0, os.SEEK_SET)
    part.offset = 0


def finish(part: PartFile) -> Path:
    """Close the complete `.part` and give it its final name (a numbered one
    if the name was taken meanwhile); the final path. UnsafePart when the
    `.part`'s path no longer names the file written."""
    os.fsync(part.fd)
    try:
        written = os.fstat(part.fd)
    finally:
        os.close(part.fd)
    if not os.path.samestat(written, os.lstat(part.path)):
        # Another program put its file where the `.part` was: that file is
        # not the download, and is left as it is.
        raise UnsafePart(part.path)
    folder, name = part.path.parent, part.target.name
    for candidate in _candidates(name):
        target = folder / candidate
        try:
            os.link(part.path, target, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError as error:
            if error.errno not in NO_HARD_LINKS:
                raise
            if os.path.lexists(target):
                continue
            # Without hard links, a rename after the check: a file created in
            # the instant between the two would be replaced.
            os.rename(part.path, target)
            return target
        os.unlink(part.path)
        return target
    raise NoFreeName(folder, name)


def free_name(folder: Path, name: str, beside: tuple[str, ...]) -> str:
    """The first of `name`, `name (1).ext`... that is taken in `folder` neither
    as it is nor with any suffix of `beside` (the files another engine keeps
    next to it; a link, even a dangling one, counts as taken)."""
    longest = max(beside, key=len, default="")
    for candidate in _candidates(name, longest):
        if not any(os.path.lexists(folder / (candidate + suffix)) for suffix in ("", *beside)):
            return candidate
    raise NoFreeName(folder, name)


def check_room(folder: Path, needed: int, minimum: int) -> None:
    """Raise NoRoom unless `folder` has `needed` bytes free beyond `minimum`."""
    free = shutil.disk_usage(folder).free
    if free < needed + minimum:
        raise NoRoom(folder, free, needed + minimum)


def _candidates(name: str, suffix: str = PART_SUFFIX) -> Iterator[str]:
    """`name`, then `name (1).ext`... each short enough to take `suffix` too."""
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    yield fit(name, room)
    for number in range(1, MAX_NUMBER + 1):
        mark = f" ({number})"
        stem, dot, extension = fit(name, room - len(mark)).rpartition(".")
        if not stem:
            stem, dot, extension = dot + extension, "", ""
        yield f"{stem}{mark}{dot}{extension}"
