"""Making text that came from the server safe to print on a terminal.

The server's names, messages and links are untrusted: they may carry terminal
escape sequences, C1 controls or invisible and bidirectional characters that
would change what the user sees. Rich markup is not handled here: the UI
passes server text as `rich.text.Text`, never as markup.
"""

from __future__ import annotations

import json
import re

# C0 and C1 controls, DEL, the line and paragraph separators (a line break to
# whatever splits lines), and the invisible or direction-changing format
# characters (zero-width, bidi overrides and isolates, BOM).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)


# What no file, database or terminal can take as it is: NUL, lone surrogates
# (valid JSON: "\ud800") and the non-characters (U+FDD0-FDEF, U+nFFFE, U+nFFFF).
_UNSTORABLE = re.compile(
    "[\x00\ud800-\udfff\ufdd0-\ufdef"
    + "".join(chr(plane + 0xFFFE) + chr(plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000))
    + "]"
)
# The bytes of JSON text that may decode to one of those: any \u escape, and the
# UTF-8 of a surrogate or of a non-character.
_MAY_BE_UNSTORABLE = re.compile(
    rb"\\u|\xed[\xa0-\xbf]|\xef\xb7[\x90-\xaf]|\xef\xbf[\xbe\xbf]"
    rb"|[\xf0-\xf4][\x8f\x9f\xaf\xbf]\xbf[\xbe\xbf]"
)


def storable(text: str) -> str:
    """`text` with what cannot be stored or encoded (NUL, lone surrogates,
    non-characters) replaced by U+FFFD: every server string, where it enters."""
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


def storable_json(value: object, raw: bytes) -> object:
    """A decoded JSON value with every string (keys too) made `storable`; `raw`,
    the JSON text, tells at no cost whether there is anything to do."""
    if json.detect_encoding(raw) == "utf-8" and not _MAY_BE_UNSTORABLE.search(raw):
        return value
    return _storable_tree(value)


def _storable_tree(value: object) -> object:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(key)): _storable_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable_tree(item) for item in value]
    return value


def plain(text: object, limit: int | None = None) -> str:
    """`text` with every unsafe character replaced by U+FFFD, cut to `limit`."""
    value = _UNSAFE.sub("\ufffd", str(text))
    if limit is not None and len(value) > limit:
        value = value[: max(limit - 1, 0)] + "\u2026"
    return value
