"""What an operation on several items did, said in one sentence."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ActedOn:
    """How many items an operation changed, and why the others were left (a
    reason to how many). `verb` says what was done: "Retried"."""

    verb: str
    acted: int = 0
    left: Counter[str] = field(default_factory=Counter)

    def sentence(self, verb: str | None = None, noun: str = "") -> str:
        """ "Retried 5; 2 were done already" (`verb` and `noun`: other words for what was done)."""
        text = f"{verb or self.verb} {self.acted}{noun}"
        if self.left:
            text += "; " + ", ".join(
                f"{count} {'was' if count == 1 else 'were'} {reason}"
                for reason, count in self.left.items()
            )
        return text
