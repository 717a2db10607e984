"""The flags of `linkdeck emulator` that shape its direct downloads (/dl/), as real hosters did.

Kept apart from serve_emulator so that building the parser imports no server.
"""

from __future__ import annotations

import argparse
from typing import Any

PLAIN_FIELDS = ("dl_rate", "dl_max_per_file", "dl_max_per_client", "dl_expire_minutes")
"""The fields of the emulator's Faults set as given (`--dl-rate` sets `dl_rate`, ...);
`--dl-drop-after` sets three."""


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _drops(text: str) -> tuple[float, int, int]:
    """A probability P, or a byte range MIN-MAX (every download cut within it):
    (probability, min bytes, max bytes), max 0 for anywhere in the body."""
    low, dash, high = text.partition("-")
    if dash:
        if not (low.isdigit() and high.isdigit()) or int(low) > int(high):
            raise argparse.ArgumentTypeError(f"not a byte range MIN-MAX: {text!r}")
        return 1.0, int(low), int(high)
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a probability or a byte range: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a probability is from 0 to 1, not {text}")
    return value, 0, 0


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of minutes: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more minutes, not {text}")
    return value


def add_download_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dl-rate",
        type=_count,
        metavar="BYTES",
        help="send each download connection at most BYTES per second (0: no limit)",
    )
    parser.add_argument(
        "--dl-max-per-file",
        type=_count,
        metavar="N",
        help="allow N download connections at once to one file, answer 503 beyond (0: no limit)",
    )
    parser.add_argument(
        "--dl-max-per-client",
        type=_count,
        metavar="N",
        help="allow N download connections at once from one address, answer 429 beyond",
    )
    parser.add_argument(
        "--dl-drop-after",
        type=_drops,
        metavar="P|MIN-MAX",
        help="drop a download with probability P (0 to 1) after a random number of bytes,"
        " or every one after MIN to MAX bytes",
    )
    parser.add_argument(
        "--dl-expire-minutes",
        type=_minutes,
        metavar="N",
        help="make a download location answer 410 Gone N minutes after its unlock",
    )


def apply_download_options(args: argparse.Namespace, faults: Any) -> None:
    """Set on the emulator's faults the download flags given (the others keep the scenario's)."""
    for field in PLAIN_FIELDS:
        value = getattr(args, field)
        if value is not None:
            setattr(faults, field, value)
    if args.dl_drop_after is not None:
        faults.dl_drop_after, faults.dl_drop_min_bytes, faults.dl_drop_max_bytes = (
            args.dl_drop_after
        )
