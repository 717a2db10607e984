"""Direct-download files: identity derived from the link, content generated on the fly.

Nothing is stored: the location token carries the size and content seed, plus a
check value so a made-up token is a 404. Token lengths vary so that some
locations pass the 255-byte mark the spec warns about (all stay far below 2083).
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import quote, unquote, urlsplit

MIN_SIZE = 20 * 10**6
MAX_SIZE = 3 * 10**9
_BLOCK = 1 << 20
_CHUNK = 256 * 1024
_TOKEN = re.compile(r"([0-9a-f]{1,12})-([0-9a-f]{16})-([0-9a-f]{40,400})")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_NAME_MARKER = re.compile(r"/name-([a-z]+)/")
_EPOCH_2015 = 1_420_070_400
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")

HOSTILE_NAMES: dict[str, str] = {
    "separators": "../../etc/passwd",
    "backslashes": "..\\..\\Windows\\win.ini",
    "dotdot": "..",
    "controls": "evil\r\nSet-Cookie: x=1\x00\x07\x1b[31mred\x7f.bin",
    "long": "A" * 996 + ".bin",
    "unicode": "Ünïcødé ファイル «draft» \u202eexe.mkv",
    "quotes": 'say "hi"; filename=evil.exe',
}
"""Names a hoster's Content-Disposition gave, by the marker ``/name-<kind>/`` in a link."""


@dataclass(frozen=True)
class RemoteFile:
    filename: str
    size: int
    seed: int

    @property
    def token(self) -> str:
        return f"{self.size:x}-{self.seed:016x}-{_check(self.size, self.seed)}"

    def location(self, base: str) -> str:
        return f"{base}/dl/{self.token}/{self.filename}"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _check(size: int, seed: int) -> str:
    length = 40 + seed % 361
    out = ""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"{size}:{seed}:{counter}".encode()).hexdigest()
        counter += 1
    return out[:length]


def hostile_kind(link: str) -> str | None:
    """The kind of hostile name a link asks its download to be served with, if any."""
    match = _NAME_MARKER.search(urlsplit(link).path)
    return match[1] if match is not None and match[1] in HOSTILE_NAMES else None


def content_disposition(name: str) -> str:
    """An attachment header for any name, as RFC 6266 has it.

    A plain name goes in ``filename`` alone. Any other is given exactly in
    ``filename*`` (UTF-8, percent-encoded: no CR or LF ever reaches the header)
    beside an ASCII fallback in which only what HTTP cannot carry is replaced.
    """
    if _UNSAFE.search(name) is None:
        return f'attachment; filename="{name}"'
    fallback = _NOT_PRINTABLE_ASCII.sub("_", name).replace("\\", "\\\\").replace('"', '\\"')
    exact = quote(name, safe="", encoding="utf-8", errors="surrogatepass")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


def last_modified(seed: int) -> str:
    """A fixed upload date of the file with this seed, in HTTP's date format."""
    return formatdate(_EPOCH_2015 + seed % (5 * 365 * 86400), usegmt=True)


def safe_filename(name: str) -> str:
    return _UNSAFE.sub("_", name)[:120] or "file.bin"


def remote_file(link: str) -> RemoteFile:
    """The file behind a hoster link: same link, same name, size and bytes."""
    digest = _digest(link)
    seed = int.from_bytes(digest[:8], "big")
    # Log-uniform sizes: many small archives, few multi-GB videos, as on real hosters.
    fraction = int.from_bytes(digest[8:16], "big") / 2**64
    size = int(MIN_SIZE * math.exp(fraction * math.log(MAX_SIZE / MIN_SIZE)))
    last = unquote(urlsplit(link).path.rstrip("/").rpartition("/")[2])
    if not last:
        name = f"file_{digest.hex()[:8]}.bin"
    elif "." in last:
        name = safe_filename(last)
    else:
        name = safe_filename(last) + ".bin"
    return RemoteFile(filename=name, size=size, seed=seed)


def parse_token(token: str) -> tuple[int, int] | None:
    """(size, seed) of a token this module issued, else None."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    size, seed = int(match[1], 16), int(match[2], 16)
    if _check(size, seed) != match[3]:
        return None
    return size, seed


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte range asked for, or None for the whole file.

    A malformed or multi-range header is ignored (RFC 9110 allows serving all of it).
    """
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if match is None or (not match[1] and not match[2]):
        return None
    if not match[1]:
        suffix = int(match[2])
        if suffix == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    first = int(match[1])
    if first >= size:
        raise RangeNotSatisfiable
    last = int(match[2]) if match[2] else size - 1
    if last < first:
        return None
    return first, min(last, size - 1)


@functools.cache
def _double_block() -> bytes:
    block = random.Random(0x5EED).randbytes(_BLOCK)
    return block + block  # doubled so any chunk is one slice, even across the wrap


def iter_content(seed: int, first: int, last: int) -> Iterator[memoryview]:
    """Bytes first..last (inclusive) of the file with this seed, in chunks."""
    data = memoryview(_double_block())
    pos = first
    while pos <= last:
        n = min(_CHUNK, last - pos + 1)
        offset = (seed + pos) % _BLOCK
        yield data[offset : offset + n]
        pos += n


def content(seed: int, first: int, length: int) -> bytes:
    """A slice of a file's bytes, for tests and small reads."""
    return b"".join(iter_content(seed, first, first + length - 1))
