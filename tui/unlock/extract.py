"""Finding the links in whatever the user pasted."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tui.untrusted import plain, storable

MAX_LINK_CHARS = 4096
"""Longer is no hoster link (and beyond 65,536 no URL httpx can send)."""

_SCHEME = re.compile(r"https?://", re.IGNORECASE)
_TRAILING = ".,;:!?)]}>'\""
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def extract_links(text: str) -> list[str]:
    """The http(s) URLs in `text`, in order, each once.

    Links are separated by any whitespace; wrappers such as `<...>`, `(...)`,
    quotes and trailing punctuation are removed. A token longer than
    MAX_LINK_CHARS, or holding control or invisible characters, is no link.
    """
    return links_in(text.split(), set())


def links_in(tokens: Iterable[str], seen: set[str]) -> list[str]:
    """The links among whitespace-free `tokens` not in `seen`, each once; adds
    them to `seen` (so a long text can be read a part at a time)."""
    links = []
    for token in tokens:
        link = _clean(token)
        if link and link not in seen:
            seen.add(link)
            links.append(link)
    return links


def _clean(token: str) -> str | None:
    start = _SCHEME.search(token)
    if start is None:
        return None
    link = token[start.start() :]
    while link and link[-1] in _TRAILING and not _balanced_closer(link):
        link = link[:-1]
    if len(link) > MAX_LINK_CHARS or plain(storable(link)) != link:
        return None  # controls, invisible characters or text no file can hold
    try:
        host = urlsplit(link).hostname
    except ValueError:
        return None
    return link if host else None


def _balanced_closer(link: str) -> bool:
    """True when the closing bracket ending `link` belongs to it, as in `/wiki/A_(b)`."""
    opener = _CLOSERS.get(link[-1])
    return opener is not None and link.count(opener) >= link.count(link[-1])


@dataclass
class PastedText:
    """What a paste held: its links, and what was left out of it."""

    links: list[str] = field(default_factory=list)
    not_links: list[str] = field(default_factory=list)
    """The lines that hold no link, stripped."""
    repeated: list[str] = field(default_factory=list)
    """Links given again after their first time, once each."""

    def left_out(self, unit: str = "line") -> list[str]:
        """What was left out, a sentence for each kind, naming the first few
        (`unit`: what a line of the text was to the user, "word" for one line
        read word by word)."""
        sentences = []
        if self.not_links:
            shown = first_few([plain(line, 80) for line in self.not_links], "; ")
            sentences.append(
                f"{len(self.not_links)} {unit}(s) hold no http(s) link and were skipped: {shown}"
            )
        if self.repeated:
            shown = first_few([plain(link, 120) for link in self.repeated], ", ")
            sentences.append(
                f"{len(self.repeated)} link(s) were given more than once and are sent once: {shown}"
            )
        return sentences


def first_few(texts: list[str], separator: str, count: int = 3) -> str:
    """The first `count` texts, and how many more there are."""
    more = f" and {len(texts) - count} more" if len(texts) > count else ""
    return separator.join(texts[:count]) + more


def read_pasted(text: str) -> PastedText:
    """Sort `text` line by line as `extract_links` reads it: links, lines with
    no link, links given more than once."""
    pasted = PastedText()
    seen: set[str] = set()
    repeated: set[str] = set()
    for line in text.splitlines():
        found = [_clean(token) for token in line.split()]
        links = [link for link in found if link]
        if not links and line.strip():
            pasted.not_links.append(line.strip())
        for link in links:
            if link not in seen:
                seen.add(link)
                pasted.links.append(link)
            elif link not in repeated:
                repeated.add(link)
                pasted.repeated.append(link)
    return pasted
