"""Opening linkdeck's own files (history, caches, exports) without following a
symbolic link at their last component.

A link where linkdeck keeps its files sends the direct links (credentials) or a
write to wherever it points; linkdeck refuses it with a sentence that names
the path and says how to get out of it. Directories above may be links: a
data directory moved to another disk is common.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path
from typing import Literal

Purpose = Literal["history", "cache", "exports", "log"]
_MOVED_BY: dict[Purpose, str] = {
    "history": "XDG_DATA_HOME",
    "cache": "XDG_CACHE_HOME",
    "exports": "XDG_DATA_HOME",
    "log": "XDG_STATE_HOME",
}
# Every open here: no link at the end, no descriptor leaked to a child, and
# never blocked by a FIFO put where a file is expected.
_FLAGS = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


class RefusedFile(OSError):
    """A path where linkdeck keeps a file holds something else; str() is the sentence."""


def symlink_sentence(path: Path, purpose: Purpose) -> str:
    return (
        f"{path} is a symbolic link: linkdeck does not follow links for its {purpose}; "
        f"remove it or point {_MOVED_BY[purpose]} elsewhere"
    )


def refuse_symlink(path: Path, purpose: Purpose) -> None:
    """Raise RefusedFile if `path` is a symbolic link (a missing path is fine)."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise RefusedFile(symlink_sentence(path, purpose))
    except FileNotFoundError:
        pass


def open_file(path: Path, flags: int, purpose: Purpose, mode: int = 0o600) -> int:
    """`os.open` that refuses a symbolic link or anything but a regular file at `path`."""
    try:
        fd = os.open(path, flags | _FLAGS, mode)
    except OSError as error:
        # ELOOP from O_NOFOLLOW; EEXIST from O_EXCL, which never follows a link either.
        if error.errno in (errno.ELOOP, errno.EEXIST, errno.EMLINK):
            refuse_symlink(path, purpose)
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RefusedFile(f"{path} is not a regular file: linkdeck keeps its {purpose} there")
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_new(path: Path, purpose: Purpose) -> int:
    """A new file, mode 0600, never one that exists nor through a link; an
    existing file raises FileExistsError."""
    return open_file(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, purpose)


def create_numbered(
    folder: Path, stem: str, suffixes: tuple[str, ...], purpose: Purpose
) -> list[tuple[Path, int]]:
    """New files `stem + suffix` for every suffix, or `stem-2 + suffix`… when one
    exists already (an export a second ago): never overwritten, never through
    a link. Returns each path with its open descriptor."""
    for number in range(1, 1000):
        base = stem if number == 1 else f"{stem}-{number}"
        created: list[tuple[Path, int]] = []
        try:
            for suffix in suffixes:
                path = folder / f"{base}{suffix}"
                created.append((path, create_new(path, purpose)))
            return created
        except FileExistsError:
            for path, fd in created:  # ours and still empty: make way for the next number
                os.close(fd)
                os.unlink(path)
        except BaseException:
            for path, fd in created:  # ours and empty: no export is left half made
                os.close(fd)
                os.unlink(path)
            raise
    raise FileExistsError(errno.EEXIST, f"every name for {stem} is taken", str(folder))


def replace_file(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to the file at `path` (or where its link points: a config kept
    among dotfiles stays a link) at once, with `mode`: a reader never sees half
    of it, a failed write leaves the old file, and a device, FIFO or folder there
    is refused, never replaced. The folder must exist. OSError names `path`."""
    target = Path(os.path.realpath(path))
    temporary = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FLAGS | getattr(os, "O_BINARY", 0)
    descriptor: int | None = None
    created = False
    try:
        if target.exists() and not target.is_file():
            raise OSError(errno.EINVAL, "it is not a regular file")
        descriptor = os.open(temporary, flags, mode)
        created = True
        if hasattr(os, "fchmod"):
            os.fchmod(descriptor, mode)  # exact, whatever the umask
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
        os.close(descriptor)
        descriptor = None
        os.replace(temporary, target)
        created = False
    except OSError as error:
        if descriptor is not None:
            with contextlib.suppress(OSError):
                os.close(descriptor)
        if created:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise OSError(error.errno, error.strerror, str(path)) from None
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable; a folder that cannot be opened is left."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # e.g. Windows: folders cannot be opened
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
