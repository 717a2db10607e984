"""A desktop notification through the terminal: OSC 9 and OSC 777, which
terminals that know neither ignore. Inside tmux they are wrapped so that tmux
passes them on. No Textual here: the App writes the text."""

from __future__ import annotations

import re

BELL = "\x07"
MAX_CHARS = 160
"""A notification is a line: longer text is cut."""

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _clean(text: str) -> str:
    """Text safe inside an escape sequence: no control character (an ESC or BEL
    would end it early and start another), at most MAX_CHARS."""
    cleaned = _CONTROLS.sub(" ", text)
    return cleaned if len(cleaned) <= MAX_CHARS else cleaned[: MAX_CHARS - 1] + "…"


def desktop_notification(title: str, body: str, *, tmux: bool) -> str:
    """The escape sequences asking the terminal for a notification."""
    title, body = _clean(title).replace(";", ","), _clean(body)
    sequences = [f"\x1b]9;{title}: {body}{BELL}", f"\x1b]777;notify;{title};{body}{BELL}"]
    if tmux:
        sequences = [tmux_passthrough(sequence) for sequence in sequences]
    return "".join(sequences)


def tmux_passthrough(sequence: str) -> str:
    """`sequence` for tmux to hand to the terminal it runs in."""
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
