"""Exporting the history: every item as JSON lines, and the direct links."""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import platformdirs

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


def default_export_folder() -> Path:
    """Where an export is offered to go: the user's download folder if there
    is one, else the current directory (never the profile's own folders, which
    the demo deletes at quit)."""
    downloads = Path(platformdirs.user_downloads_dir())
    return downloads if downloads.is_dir() else Path.cwd()


def export_history(
    history: History, folder: Path, stamp: str, ids: Collection[int] | None = None
) -> ExportResult:
    """Write `linkdeck-STAMP.jsonl` and `linkdeck-STAMP-links.txt` into `folder`,
    numbered rather than over existing files: every item, or those of `ids`.
    Blocking: run it in a thread (the history is safe to read from one).
    Raises ExportFailed."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        (jsonl, jsonl_fd), (links, links_fd) = create_numbered(
            folder, f"linkdeck-{stamp}", (".jsonl", "-links.txt"), "exports"
        )
    except RefusedFile as refused:
        raise ExportFailed(f"Export refused: {refused}") from None
    except FileExistsError:
        raise ExportFailed(f"Export failed: {folder} is a file, not a folder") from None
    except OSError as error:
        raise ExportFailed(f"Export failed: {folder}: {error.strerror}") from None
    try:
        with (
            os.fdopen(jsonl_fd, "w", encoding="utf-8") as jsonl_fp,
            os.fdopen(links_fd, "w", encoding="utf-8") as links_fp,
        ):
            if ids is None:
                count = history.export_jsonl(jsonl_fp)
                history.export_links(links_fp)
            else:
                count = _export_items(history, sorted(ids), jsonl_fp, links_fp)
    except BaseException as error:
        # Half an export looks like a whole one: none is left.
        for path in (jsonl, links):
            path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise ExportFailed(f"Export failed: {error.strerror}") from None
        raise
    return ExportResult(count, jsonl, links, len(history.unreadable_ids))


def _export_items(history: History, ids: list[int], jsonl: IO[str], links: IO[str]) -> int:
    """The items of `ids` still in the history, as `History.export_jsonl` and
    `History.export_links` write every item."""
    from tui.unlock.history import item_record
    from tui.unlock.items import ItemState

    count = 0
    for item_id in ids:
        item = history.get(item_id)
        if item is None:
            continue
        jsonl.write(json.dumps(item_record(item), ensure_ascii=False) + "\n")
        count += 1
        if item.state is ItemState.DONE and item.location:
            links.write(f"{item.location}\n")
    return count
