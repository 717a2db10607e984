"""Making text that came from the server safe to print on a terminal.

The server's names, messages and links are untrusted: they may carry terminal
escape sequences, C1 controls or invisible and bidirectional characters that
would change what the user sees. Rich markup is not handled here: the UI
passes server text as `rich.text.Text`, never as markup.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the invisible or direction-changing format
# characters (zero-width, bidi overrides and isolates, BOM).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)


def plain(text: object, limit: int | None = None) -> str:
    """`text` with every unsafe character replaced by U+FFFD, cut to `limit`."""
    value = _UNSAFE.sub("\ufffd", str(text))
    if limit is not None and len(value) > limit:
        value = value[: max(limit - 1, 0)] + "\u2026"
    return value
