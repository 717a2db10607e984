"""What a resume needs: the `.part`, the server's validator, and how far each
segment of the file got.

The segments cover the file from byte 0 to its end, in order, without gaps or
overlaps; each has been written from its start for `done` bytes. The core
keeps `Plan.to_json()` in the history database, so `from_json` reads text that
may have been damaged or tampered with: anything but a plan this module could
have written is a ValueError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.download.files import PART_SUFFIX
from tui.download.job import is_count, is_text

MAX_SEGMENTS = 10_000
"""More than any download splits into (a split leaves at least a MiB a side)."""
MAX_VALIDATOR = 1024


@dataclass(frozen=True)
class Segment:
    start: int
    end: int | None
    """Exclusive; None while the file's size is unknown (one segment, to its end)."""
    done: int
    """Bytes written from `start`."""

    @property
    def finished(self) -> bool:
        return self.end is not None and self.start + self.done >= self.end


@dataclass(frozen=True)
class Plan:
    part: Path
    validator: str | None
    """A strong ETag or Last-Modified, for `If-Range`."""
    total: int | None
    segments: tuple[Segment, ...]

    @property
    def done(self) -> int:
        return sum(segment.done for segment in self.segments)

    def to_json(self) -> str:
        return json.dumps(
            {
                "part": str(self.part),
                "validator": self.validator,
                "total": self.total,
                "segments": [[s.start, s.end, s.done] for s in self.segments],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """The plan `text` holds; ValueError unless it is a whole, consistent one."""
        try:
            data = json.loads(text)
        except RecursionError as error:  # deeply nested arrays
            raise ValueError("a plan is not nested") from error
        if not isinstance(data, dict) or set(data) != {"part", "validator", "total", "segments"}:
            raise ValueError("a plan is an object of part, validator, total and segments")
        part, validator, total = data["part"], data["validator"], data["total"]
        if not is_text(part) or not part.endswith(PART_SUFFIX):
            raise ValueError("a plan's part is the path of a .part file")
        if not Path(part).is_absolute():
            raise ValueError("a plan's part is an absolute path")
        if validator is not None and (
            not isinstance(validator, str)
            or len(validator) > MAX_VALIDATOR
            or not validator.isprintable()
        ):
            raise ValueError("a plan's validator is a short printable text")
        if total is not None and not is_count(total):
            raise ValueError("a plan's total is a count of bytes")
        raw = data["segments"]
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SEGMENTS:
            raise ValueError("a plan has segments")
        segments = tuple(_segment(item) for item in raw)
        _check_cover(segments, total)
        return cls(Path(part), validator, total, segments)


def _segment(item: Any) -> Segment:
    if not isinstance(item, list) or len(item) != 3:
        raise ValueError("a segment is [start, end, done]")
    start, end, done = item
    if not is_count(start) or not is_count(done) or (end is not None and not is_count(end)):
        raise ValueError("a segment's bounds are counts of bytes")
    if end is not None and start + done > end:
        raise ValueError("a segment ends after its end")
    return Segment(start, end, done)


def _check_cover(segments: tuple[Segment, ...], total: int | None) -> None:
    """Segments in order from 0 to `total`, each starting where the last ends."""
    if total is None:
        if len(segments) != 1 or segments[0].start != 0 or segments[0].end is not None:
            raise ValueError("a file of unknown size is one open segment")
        return
    position = 0
    for segment in segments:
        if segment.start != position or segment.end is None or segment.end < segment.start:
            raise ValueError("segments follow one another without gaps")
        position = segment.end
    if position != total:
        raise ValueError("segments end at the file's end")
