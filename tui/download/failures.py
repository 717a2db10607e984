"""Why a download stopped: typed errors, each said in one sentence.

A resumable one carries the plan (the `.part`, the server's validator, how far
each segment got), to hand back to `fetch` for a resume."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the plan module reads the `.part` rules of `files`, which raises these
    from tui.download.plan import Plan


class DownloadError(Exception):
    """A download that stopped; `plan` is set when it can be resumed."""

    plan: Plan | None = None

    def resumable(self, plan: Plan) -> DownloadError:
        self.plan = plan
        return self


class NoRoom(DownloadError):
    def __init__(self, folder: Path, free: int, needed: int) -> None:
        super().__init__(f"{folder} has {free:,} bytes free, {needed:,} are needed.")


class DiskFull(DownloadError):
    def __init__(self, part: Path) -> None:
        super().__init__(f"The disk filled while writing {part.name}; it is kept for a resume.")


class UnsafePart(DownloadError):
    def __init__(self, part: Path) -> None:
        super().__init__(f"{part.name} is not a regular file of ours, so it is left alone.")


class NoFreeName(DownloadError):
    def __init__(self, folder: Path, name: str) -> None:
        super().__init__(f"Every numbered name for {name} in {folder} is taken.")


class Stalled(DownloadError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"The server sent nothing for {seconds:g} seconds.")


class DeadlinePassed(DownloadError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"The download took longer than its {seconds:g} seconds.")


class ConnectionLost(DownloadError):
    def __init__(self, done: int) -> None:
        super().__init__(f"The connection broke after {done:,} bytes.")


class SizeMismatch(DownloadError):
    def __init__(self, got: int, expected: int) -> None:
        super().__init__(f"The file has {got:,} bytes where {expected:,} were expected.")


class RangeIgnored(DownloadError):
    def __init__(self) -> None:
        super().__init__("The download host sent the whole file where a part was asked.")


class Refused(DownloadError):
    def __init__(self, status: int) -> None:
        super().__init__(f"The download host answered HTTP {status}.")
        self.status = status


class Aria2CallError(DownloadError):
    """A call to aria2 failed (unreachable, the secret refused, an answer not
    aria2's, a call refused) or its secret command did: the one sentence the
    client says, never the secret."""


class Aria2Failed(DownloadError):
    def __init__(self, message: str) -> None:
        super().__init__(f"aria2 failed the download: {message}")


class RemovedInAria2(DownloadError):
    def __init__(self) -> None:
        super().__init__("The download was removed in aria2.")


class OutsideFolder(DownloadError):
    def __init__(self, folder: Path) -> None:
        super().__init__(f"aria2 wrote the file outside {folder}, so it is left alone.")


class FileChanged(DownloadError):
    def __init__(self) -> None:
        super().__init__("The file changed on the download host while it downloaded.")


class BadRedirect(DownloadError):
    """A redirect that leads nowhere a file can come from."""


class EncodedBody(DownloadError):
    def __init__(self, encoding: str) -> None:
        super().__init__(
            f"The download host sent the file encoded ({encoding}) where the bytes were asked."
        )


class NotAFolder(DownloadError):
    def __init__(self, folder: Path) -> None:
        super().__init__(f"{folder} is not a folder.")
