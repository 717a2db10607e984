"""The flags of `linkdeck emulator` that shape its direct downloads (/dl/), as real hosters did.

Kept apart from serve_emulator so that building the parser imports no server.
"""

from __future__ import annotations

import argparse
from typing import Any

DOWNLOAD_FIELDS = (
    "dl_rate",
    "dl_max_per_file",
    "dl_max_per_client",
    "dl_drop_after",
    "dl_expire_minutes",
)
"""The fields of the emulator's Faults these flags set (`--dl-rate` sets `dl_rate`, ...)."""


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a probability is from 0 to 1, not {text}")
    return value


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
        type=_probability,
        metavar="P",
        help="drop a download with probability P (0 to 1) after a random number of bytes",
    )
    parser.add_argument(
        "--dl-expire-minutes",
        type=_minutes,
        metavar="N",
        help="make a download location answer 410 Gone N minutes after its unlock",
    )


def apply_download_options(args: argparse.Namespace, faults: Any) -> None:
    """Set on the emulator's faults the download flags given (the others keep the scenario's)."""
    for field in DOWNLOAD_FIELDS:
        value = getattr(args, field, None)
        if value is not None:
            setattr(faults, field, value)
