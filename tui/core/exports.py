"""Exporting the history: every item as JSON lines, and the direct links."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tui.safe_files import RefusedFile, create_numbered

if TYPE_CHECKING:
    from tui.unlock.history import History


class ExportFailed(Exception):
    """str() says why, in a sentence."""


@dataclass(frozen=True)
class ExportResult:
    count: int
    jsonl: Path
    links: Path
    unreadable: int
    """Rows of the history that could not be read, so are not in the export."""


def export_history(history: History, folder: Path, stamp: str) -> ExportResult:
    """Write `linkdeck-STAMP.jsonl` and `linkdeck-STAMP-links.txt` into `folder`,
    numbered rather than over existing files. Blocking: run it in a thread
    (the history is safe to read from one). Raises ExportFailed."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        (jsonl, jsonl_fd), (links, links_fd) = create_numbered(
            folder, f"linkdeck-{stamp}", (".jsonl", "-links.txt"), "exports"
        )
    except RefusedFile as refused:
        raise ExportFailed(f"Export refused: {refused}") from None
    except OSError as error:
        raise ExportFailed(f"Export failed: {error.strerror}") from None
    try:
        with (
            os.fdopen(jsonl_fd, "w", encoding="utf-8") as jsonl_fp,
            os.fdopen(links_fd, "w", encoding="utf-8") as links_fp,
        ):
            count = history.export_jsonl(jsonl_fp)
            history.export_links(links_fp)
    except BaseException as error:
        # Half an export looks like a whole one: none is left.
        for path in (jsonl, links):
            path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise ExportFailed(f"Export failed: {error.strerror}") from None
        raise
    return ExportResult(count, jsonl, links, len(history.unreadable_ids))
