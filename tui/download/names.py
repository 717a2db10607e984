"""The file name of a download, made from untrusted text.

The name comes from `Content-Disposition` (RFC 6266: `filename*` preferred
over `filename`), else the unlock answer's `filename`, else the URL's last
path segment. Whatever the source, the name is made one safe path
component for a POSIX file system (Windows' reserved names such as `CON` do
not matter there): no separators, no control or format characters (C0, C1,
DEL, bidi overrides, zero-width marks), no leading dots (so never `.`, `..`
or a hidden file nobody sees in a listing), trimmed, at most 255 bytes of
UTF-8 cut at a character boundary keeping the extension, never empty.
"""

from __future__ import annotations

import unicodedata
from email.message import Message
from email.utils import collapse_rfc2231_value
from urllib.parse import unquote, urlsplit

MAX_NAME_BYTES = 255
"""NAME_MAX of ext4, XFS, btrfs and most others: bytes, not characters."""
FALLBACK = "download"
MAX_EXTENSION_BYTES = 16
"""A longer tail after the last dot is part of the name, not an extension to keep."""
SEPARATORS = ("/", "\\")
"""`/` is the POSIX separator; `\\` too, since a name from Windows means a path by it."""
DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Controls (C0, DEL, C1), format characters (bidi overrides, zero-width),
lone surrogates (not encodable) and line or paragraph separators."""


def download_name(content_disposition: str | None, answer_filename: str | None, url: str) -> str:
    """The first of the three sources that gives a name, made safe."""
    for raw in (from_content_disposition(content_disposition), answer_filename, from_url(url)):
        name = _clean(raw or "")
        if name:
            return name
    return FALLBACK


def from_content_disposition(header: str | None) -> str | None:
    """The `filename*` (RFC 8187 encoding) of the header, else its `filename`:
    the stdlib's RFC 2231 parser, which keeps both and marks the encoded one."""
    if not header:
        return None
    message = Message()
    message["content-disposition"] = header
    params = message.get_params(header="content-disposition", unquote=True) or []
    plain: str | None = None
    for key, value in params[1:]:
        if key.lower() != "filename":
            continue
        if isinstance(value, tuple):  # the `filename*` form: (charset, language, text)
            return collapse_rfc2231_value(value, errors="replace")
        plain = plain if plain is not None else value
    return plain


def from_url(url: str) -> str | None:
    """The URL's last path segment, percent-decoded."""
    try:
        path = urlsplit(url).path
    except ValueError:  # not a URL (a bracket that opens no IPv6 address)
        return None
    segment = path.rsplit("/", 1)[-1]
    return unquote(segment, errors="replace") or None


def fit(name: str, max_bytes: int) -> str:
    """`name` cut to `max_bytes` of UTF-8 at a character boundary, keeping
    its extension when it has a short one."""
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    stem, dot, extension = name.rpartition(".")
    tail = dot + extension
    if not stem or len(tail.encode("utf-8")) > MAX_EXTENSION_BYTES:
        stem, tail = name, ""
    budget = max_bytes - len(tail.encode("utf-8"))
    return stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip() + tail


def _clean(text: str) -> str:
    kept = "".join(
        "_" if ch in SEPARATORS else ch
        for ch in text
        if unicodedata.category(ch) not in DROPPED_CATEGORIES
    )
    return _trim(fit(_trim(kept), MAX_NAME_BYTES))


def _trim(name: str) -> str:
    """Without surrounding white space nor leading dots."""
    start = 0
    while start < len(name) and (name[start].isspace() or name[start] == "."):
        start += 1
    return name[start:].rstrip()
