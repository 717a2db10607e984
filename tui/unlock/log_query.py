"""What the unlock log shows: a search typed by the user, and an order.

The search is words and state filters, e.g. `state:failed uploaded 503`:
every word must appear (case aside) in the link, the hoster, the file name or
the server's answer of an item; `state:` (or `is:`) keeps the items in one of
the states named, by the start of their name and separated by commas
(`state:fail,wait`). The history answers a search with its full-text index
(`History.find_ids`); `LogQuery.matches` tells the same of one item, for the
items that change while the log is filtered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from textwrap import shorten

from tui.unlock.items import Item, ItemState
from tui.untrusted import storable

STATE_PREFIXES = ("state:", "is:")
INDEXED_LENGTH = 3
"""Words this long or longer are found through the full-text index (trigrams),
whose case folding is Unicode's; shorter ones row by row with SQL's LIKE, which
folds the case of ASCII letters only. `matches` folds as each does."""
MAX_TERMS = 16
"""Words a search keeps (each is one more condition; SQLite's depth is bounded)."""
MAX_TERM_CHARS = 200
"""A longer word is looked for by its first 200 characters: each keystroke of
a 3,000-character word cost 90 ms at 100,000 items."""
SHOWN_FILTER = 32
"""Characters of the search shown in the log's title, which keeps its count."""
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class LogSort(StrEnum):
    """The columns the log sorts by, in the order `o` cycles through them."""

    TIME = "time"
    """The order the items were queued in."""
    HOSTER = "hoster"
    STATE = "state"
    ANSWER = "answer"
    NAME = "name"
    """The file name, or the link while there is none."""


@dataclass(frozen=True, slots=True)
class LogQuery:
    text: str = ""
    """As typed: shown again when the search box opens."""
    terms: tuple[str, ...] = ()
    """The words, each to be found in one of the item's texts."""
    states: frozenset[ItemState] | None = None
    """The states kept; None keeps every state."""
    sort: LogSort = LogSort.TIME
    descending: bool = False
    dropped: int = 0
    """Words past the first MAX_TERMS, left out."""
    unknown_states: tuple[str, ...] = ()
    """Names after `state:` that name no state, left out."""

    @classmethod
    def parse(cls, text: str, sort: LogSort = LogSort.TIME, descending: bool = False) -> LogQuery:
        """Any text is a query: what is not a state filter is a word to find."""
        terms: dict[str, str] = {}  # by folded case: a word repeated counts once
        states: set[ItemState] | None = None
        unknown: list[str] = []
        for word in storable(text).split():
            prefix = next((p for p in STATE_PREFIXES if word.lower().startswith(p)), None)
            if prefix is None:
                word = word[:MAX_TERM_CHARS]
                terms.setdefault(word.casefold(), word)
                continue
            names = [name for name in word[len(prefix) :].lower().split(",") if name]
            named = {state for state in ItemState if any(state.startswith(n) for n in names)}
            unknown += [n for n in names if not any(s.startswith(n) for s in ItemState)]
            if named:  # "state:" as it is being typed filters nothing yet
                # Each state: adds states, as one state: with commas does.
                states = named if states is None else states | named
        words = tuple(terms.values())
        return cls(
            text,
            words[:MAX_TERMS],
            None if states is None else frozenset(states),
            sort,
            descending,
            dropped=max(len(words) - MAX_TERMS, 0),
            unknown_states=tuple(unknown),
        )

    @property
    def filters(self) -> bool:
        return bool(self.terms) or self.states is not None

    def parsed_again(self, text: str) -> LogQuery:
        """The query of `text` in this one's order."""
        return LogQuery.parse(text, self.sort, self.descending)

    def sorted_by(self, sort: LogSort, descending: bool) -> LogQuery:
        return replace(self, sort=sort, descending=descending)

    def matches(self, item: Item) -> bool:
        if self.states is not None and item.state not in self.states:
            return False
        texts = [text for text in (item.link, item.hoster, item.filename, item.message) if text]
        return all(any(_found(term, text) for text in texts) for term in self.terms)

    def describe(self) -> list[str]:
        """The parts of the log's title: "filter: foo", "state: failed", "sort: hoster ↓"."""
        parts = []
        if self.terms:
            words = shorten(" ".join(self.terms), SHOWN_FILTER, placeholder="…")
            more = f" (first {MAX_TERMS} words)" if self.dropped else ""
            parts.append(f"filter: {words}{more}")
        if self.unknown_states:
            parts.append("no state " + ",".join(self.unknown_states))
        if self.states is not None:
            names = [state.value for state in ItemState if state in self.states]
            parts.append("state: " + (",".join(names) or "none"))
        if self.sort is not LogSort.TIME or self.descending:
            parts.append(f"sort: {self.sort.value} {'↓' if self.descending else '↑'}")
        return parts


def _found(term: str, text: str) -> bool:
    if len(term) >= INDEXED_LENGTH:
        return term.casefold() in text.casefold()
    return term.translate(_ASCII_LOWER) in text.translate(_ASCII_LOWER)
