"""Which hoster serves a URL: every regex compiled once, invalid ones skipped.

The patterns come from the server, so they run in RE2, whose time is linear
in the URL whatever the pattern: with Python's backtracking `re`, one pattern
such as `(x+x+)+y` froze the dashboard on a 40-character link. What RE2
cannot express (look-arounds, back-references) is skipped and counted with
the invalid ones, naming its hoster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import re2

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
    lookup tries the few patterns of the URL's domain first. When none of
    those answers, it tries the patterns that name none of their hoster's
    TLDs (a mirror's domain, say): one that names its own domain serves that
    domain, and trying every one of 50,000 took a third of a second.
    """

    hosters: tuple[Hoster, ...]
    invalid: list[InvalidPattern] = field(default_factory=list)
    _elsewhere: list[tuple[Any, Hoster]] = field(default_factory=list)
    _by_domain: dict[str, list[tuple[Any, Hoster]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        options = re2.Options()
        options.case_sensitive = False
        options.log_errors = False  # a bad pattern is counted, not printed on stderr
        for hoster in self.hosters:
            for pattern in hoster.regexes:
                try:
                    compiled = re2.compile(_JS_NAMED_GROUP.sub("(?P<", pattern), options)
                except (re2.error, ValueError, TypeError) as exc:
                    self.invalid.append(InvalidPattern(hoster.name, pattern, _reason(exc)))
                    continue
                entry = (compiled, hoster)
                domains = [tld.lower().removeprefix("www.") for tld in hoster.tlds]
                for domain in domains:
                    self._by_domain.setdefault(domain, []).append(entry)
                if not any(_names(pattern, domain) for domain in domains):
                    self._elsewhere.append(entry)

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

    def _candidates(self, url: str) -> list[list[tuple[Any, Hoster]]]:
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
        buckets.append(self._elsewhere)
        return buckets


def _names(pattern: str, domain: str) -> bool:
    """Whether `pattern` spells out `domain` (escaped, as a regex of it would)."""
    return re.escape(domain).lower() in pattern.lower() or domain in pattern.lower()


def _reason(error: Exception) -> str:
    """RE2's reason as text (it gives bytes), e.g. "invalid perl operator: (?="."""
    reason = error.args[0] if error.args else error
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
