"""Which hoster serves a URL: every regex compiled once, invalid ones skipped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tui.api.models import Hoster

# JavaScript/PCRE syntax that Python's `re` spells differently.
_JS_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")


@dataclass(frozen=True)
class InvalidPattern:
    hoster: str
    pattern: str
    error: str


@dataclass
class HosterMatcher:
    """Answers "which hoster serves this URL?" from the hosterlist's regexes.

    Patterns are bucketed by the host names their hoster's TLDs give, so a
    lookup tries the few patterns of the URL's domain first and only falls
    back to every pattern when no bucket answers.
    """

    hosters: tuple[Hoster, ...]
    invalid: list[InvalidPattern] = field(default_factory=list)
    _compiled: list[tuple[re.Pattern[str], Hoster]] = field(default_factory=list)
    _by_domain: dict[str, list[tuple[re.Pattern[str], Hoster]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for hoster in self.hosters:
            for pattern in hoster.regexes:
                try:
                    compiled = re.compile(_JS_NAMED_GROUP.sub("(?P<", pattern), re.IGNORECASE)
                except (re.error, RecursionError, OverflowError) as exc:
                    self.invalid.append(InvalidPattern(hoster.name, pattern, str(exc)))
                    continue
                entry = (compiled, hoster)
                self._compiled.append(entry)
                for tld in hoster.tlds:
                    self._by_domain.setdefault(tld.lower().removeprefix("www."), []).append(entry)

    @property
    def invalid_count(self) -> int:
        return len(self.invalid)

    def match(self, url: str) -> Hoster | None:
        """The hoster whose pattern matches `url`, or None."""
        url = url.strip()
        for candidates in self._candidates(url):
            for compiled, hoster in candidates:
                if compiled.match(url):
                    return hoster
        return None

    def _candidates(self, url: str) -> list[list[tuple[re.Pattern[str], Hoster]]]:
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            host = ""
        buckets = []
        labels = host.split(".")
        for start in range(len(labels) - 1):
            bucket = self._by_domain.get(".".join(labels[start:]))
            if bucket:
                buckets.append(bucket)
        buckets.append(self._compiled)
        return buckets
