"""Which hoster serves a URL: the server's regexes in RE2, invalid ones skipped.

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

from tui.api.models import Hoster
from tui.untrusted import plain

# JavaScript/PCRE syntax that Python's `re` spells differently.
_JS_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")
# Patterns per re2.Set: a Set of 50,000 needed half a gigabyte to compile.
_SET_SIZE = 1_000


@dataclass(frozen=True)
class InvalidPattern:
    hoster: str
    pattern: str
    error: str


def invalid_summary(invalid: list[InvalidPattern], named: int = 3) -> str:
    """ "1 bad pattern (rapidgator.net)": how many patterns were skipped, and
    whose (the first few hosters); "" when none was."""
    if not invalid:
        return ""
    hosters = list(dict.fromkeys(plain(pattern.hoster, 40) for pattern in invalid))
    names = ", ".join(hosters[:named])
    if len(hosters) > named:
        names += f", +{len(hosters) - named} more"
    noun = "bad pattern" if len(invalid) == 1 else "bad patterns"
    return f"{len(invalid)} {noun} ({names})"


class _Pattern:
    """One pattern of a domain's bucket, compiled the first time a URL of that domain
    asks: parsing every pattern takes a fifth of what compiling them does."""

    __slots__ = ("_compiled", "hoster", "source")

    def __init__(self, source: str, hoster: Hoster) -> None:
        self.source, self.hoster, self._compiled = source, hoster, None

    def matches(self, url: str, options: Any, invalid: list[InvalidPattern]) -> bool:
        if self._compiled is None:
            import re2

            try:
                self._compiled = re2.compile(self.source, options)
            except re2.error as exc:  # parsed, but too large to compile
                invalid.append(InvalidPattern(self.hoster.name, self.source, _reason(exc)))
                self._compiled = False
        return bool(self._compiled) and self._compiled.match(url) is not None


@dataclass
class HosterMatcher:
    """Answers "which hoster serves this URL?" from the hosterlist's regexes.

    Patterns are bucketed by the host names their hoster's TLDs give, so a
    lookup tries the few patterns of the URL's domain first. When none of
    those answers, it asks the patterns that name none of their hoster's TLDs
    (a mirror's domain, say) all at once, through re2.Set: a hostile list of
    50,000 such patterns is one pass over the URL, not 50,000.
    """

    hosters: tuple[Hoster, ...]
    invalid: list[InvalidPattern] = field(default_factory=list)
    _options: Any = field(default=None, repr=False)
    _by_domain: dict[str, list[_Pattern]] = field(default_factory=dict, repr=False)
    _elsewhere: list[tuple[Any, list[Hoster]]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not self.hosters:
            return  # nothing to compile: RE2 is imported with the first list
        import re2

        self._options = options = re2.Options()
        options.case_sensitive = False
        options.log_errors = False  # a bad pattern is counted, not printed on stderr
        check = _PatternCheck(options)
        elsewhere: list[tuple[str, Hoster]] = []
        for hoster in self.hosters:
            domains = [tld.lower().removeprefix("www.") for tld in hoster.tlds]
            for raw in hoster.regexes:
                pattern = _JS_NAMED_GROUP.sub("(?P<", raw)
                error = check.error(pattern)
                if error is not None:
                    self.invalid.append(InvalidPattern(hoster.name, raw, error))
                    continue
                entry = _Pattern(pattern, hoster)
                for domain in domains:
                    self._by_domain.setdefault(domain, []).append(entry)
                if not any(_names(pattern, domain) for domain in domains):
                    elsewhere.append((pattern, hoster))
        for start in range(0, len(elsewhere), _SET_SIZE):
            self._elsewhere.extend(self._sets(elsewhere[start : start + _SET_SIZE]))

    @property
    def invalid_count(self) -> int:
        return len(self.invalid)

    def match(self, url: str) -> Hoster | None:
        """The hoster whose pattern matches `url`, or None."""
        url = url.strip()
        for entry in self._bucket(url):
            if entry.matches(url, self._options, self.invalid):
                return entry.hoster
        for patterns, hosters in self._elsewhere:
            found = patterns.Match(url)
            if found:
                return hosters[min(found)]  # the first in the server's order
        return None

    def _bucket(self, url: str) -> list[_Pattern]:
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            host = ""
        labels = host.split(".")
        entries: list[_Pattern] = []
        for start in range(len(labels) - 1):
            entries += self._by_domain.get(".".join(labels[start:]), ())
        return entries

    def _sets(self, patterns: list[tuple[str, Hoster]]) -> list[tuple[Any, list[Hoster]]]:
        """re2.Sets answering for `patterns`; halves of them when RE2 finds a Set too
        large, down to single patterns, which the invalid ones count."""
        import re2

        compiled = re2.Set.MatchSet(self._options)
        for pattern, _ in patterns:
            compiled.Add(pattern)
        try:
            compiled.Compile()
        except re2.error as exc:
            if len(patterns) == 1:
                pattern, hoster = patterns[0]
                self.invalid.append(InvalidPattern(hoster.name, pattern, _reason(exc)))
                return []
            half = len(patterns) // 2
            return self._sets(patterns[:half]) + self._sets(patterns[half:])
        return [(compiled, [hoster for _, hoster in patterns])]


class _PatternCheck:
    """Checks that RE2 takes a pattern by parsing it only (into a Set thrown away)."""

    def __init__(self, options: Any) -> None:
        self._options, self._set, self._count = options, None, 0

    def error(self, pattern: str) -> str | None:
        """None when RE2 takes `pattern`, else its reason."""
        import re2

        if self._set is None or self._count >= _SET_SIZE:
            self._set, self._count = re2.Set.MatchSet(self._options), 0
        try:
            self._set.Add(pattern)
        except (re2.error, TypeError, ValueError):
            # Set.Add gives no reason; compiling the pattern alone does.
            try:
                re2.compile(pattern, self._options)
            except (re2.error, TypeError, ValueError) as exc:
                return _reason(exc)
            return "RE2 cannot use it"
        self._count += 1
        return None


def _names(pattern: str, domain: str) -> bool:
    """Whether `pattern` spells out `domain` (escaped or not)."""
    return domain in pattern.lower().replace("\\", "")


def _reason(error: Exception) -> str:
    """RE2's reason as text (it gives bytes), e.g. "invalid perl operator: (?="."""
    reason = error.args[0] if error.args else error
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
