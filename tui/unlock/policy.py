"""What the queue does after each answer of `directdownloadlink`: one table.

It follows the spec's advice and what mature clients did (see
spec/PROTOCOL-NOTES.md): 4xx ends the item, 5xx retries after a delay, some
answers hold a hoster or the whole account, some pause the queue. The help
screen and the README show this table in words (`status_rows`), so that what
they say is what the engine does, with the delays of the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from tui.api.errors import (
    ApiError,
    InsecureTransport,
    LinkdeckError,
    MalformedResponse,
    TransportError,
    UndocumentedError,
    UntrustedCertificate,
    meaning_of,
)
from tui.formatting import duration
from tui.unlock.items import ItemState

if TYPE_CHECKING:
    from tui.settings import UnlockSettings


class HoldScope(StrEnum):
    NONE = "none"
    HOSTER = "hoster"
    """The other links of the item's hoster wait."""
    ACCOUNT = "account"
    """Every other link waits."""


@dataclass(frozen=True, slots=True)
class Rule:
    state: ItemState
    """The item's next state: FAILED ends it, WAITING retries it, PENDING requeues it."""
    delay: str | None = None
    """The `UnlockSettings` field giving the delay of the retry and of the hold."""
    hold: HoldScope = HoldScope.NONE
    counts_as_attempt: bool = True
    """False when the answer says nothing about the link, so the limit is not used up."""
    pause: str | None = None
    """Pause the whole queue with this reason."""

    def describe(self, settings: UnlockSettings) -> str:
        """What the queue does, in words, with the delays and the limit of `settings`."""
        wait = duration(getattr(settings, self.delay)) if self.delay else ""
        parts = [self._fate(settings, wait)]
        if self.hold is HoldScope.HOSTER:
            parts.append(f"the other links of its hoster wait {wait}")
        elif self.hold is HoldScope.ACCOUNT:
            parts.append(f"every other link waits {wait}, or until another account is used")
        if self.pause in FIXED_BY_SETTINGS:
            parts.append(f"the queue pauses ({self.pause}) until the settings change")
        elif self.pause:
            parts.append(f"the queue pauses ({self.pause})")
        return "; ".join(parts)

    def _fate(self, settings: UnlockSettings, wait: str) -> str:
        if self.state is ItemState.FAILED:
            return "the item ends"
        if self.state is ItemState.PENDING:
            return "the link stays queued"
        if not self.counts_as_attempt:
            return f"retried after {wait}, no attempt used"
        if settings.max_attempts == 1:
            return "the item ends (the attempt limit is 1)"
        return f"retried after {wait}, up to {settings.max_attempts} attempts"


END = Rule(ItemState.FAILED)
RETRY = Rule(ItemState.WAITING, delay="retry_delay")
LOGIN_FAILED = "login failed: give new credentials"
ACCOUNT_CANNOT_DOWNLOAD = "account cannot download"
INSECURE_URL = "insecure API URL"
UNTRUSTED_CERTIFICATE = "certificate not trusted"
FIXED_BY_SETTINGS = frozenset(
    {LOGIN_FAILED, ACCOUNT_CANNOT_DOWNLOAD, INSECURE_URL, UNTRUSTED_CERTIFICATE}
)
"""Pauses that new settings end: the user was asked to change them."""

RULES: dict[int | str, Rule] = {
    400: END,
    401: Rule(ItemState.PENDING, counts_as_attempt=False, pause=LOGIN_FAILED),
    402: Rule(ItemState.FAILED, pause=ACCOUNT_CANNOT_DOWNLOAD),
    403: END,
    404: END,
    428: Rule(ItemState.FAILED, delay="hoster_hold", hold=HoldScope.HOSTER),
    502: RETRY,
    503: RETRY,
    509: Rule(
        ItemState.WAITING, delay="fair_use_delay", hold=HoldScope.ACCOUNT, counts_as_attempt=False
    ),
    # Undocumented statuses: 500 ("Link limit reached") looks temporary; for 0 and 2
    # ("Daily limit reached for this host!", "strange error") the server's message says why.
    "server error": RETRY,
    "client error": END,
    "transport": RETRY,
    "malformed": RETRY,
    "insecure": Rule(ItemState.PENDING, counts_as_attempt=False, pause=INSECURE_URL),
    # Nothing was sent, and waiting will not make the certificate trusted.
    "certificate": Rule(ItemState.PENDING, counts_as_attempt=False, pause=UNTRUSTED_CERTIFICATE),
}


def outcome_of(error: LinkdeckError) -> int | str:
    """The key of `error` in `RULES`."""
    if isinstance(error, InsecureTransport):
        return "insecure"
    if isinstance(error, UntrustedCertificate):
        return "certificate"
    if isinstance(error, TransportError):
        return "transport"
    if isinstance(error, MalformedResponse):
        return "malformed"
    if isinstance(error, ApiError) and error.status is not None:
        return _outcome_of_status(error.status)
    return "client error"


def _outcome_of_status(status: int) -> int | str:
    if status in RULES:
        return status
    return "server error" if status >= 500 else "client error"


def rule_for(error: LinkdeckError) -> Rule:
    return RULES[outcome_of(error)]


def holds_hoster(status: int | None) -> bool:
    """Whether an answer of `status` holds the links of the item's hoster (so the
    hoster's status column changes)."""
    return status is not None and RULES[_outcome_of_status(status)].hold is HoldScope.HOSTER


def holds_account(status: int | None) -> bool:
    """Whether an answer of `status` holds every link of the account (fair use
    used up): a hold that ends when another account is used."""
    return status is not None and RULES[_outcome_of_status(status)].hold is HoldScope.ACCOUNT


class StatusRow(NamedTuple):
    code: str
    meaning: str
    """The spec's words, from `tui.api.errors`."""
    what_linkdeck_does: str


_NOT_A_CODE: dict[str, tuple[str, str]] = {
    "server error": ("500+", UndocumentedError.meaning),
    "client error": ("0, 2, other", UndocumentedError.meaning),
    "transport": ("-", TransportError.meaning),
    "malformed": ("-", MalformedResponse.meaning),
    "insecure": ("-", InsecureTransport.meaning),
    "certificate": ("-", UntrustedCertificate.meaning),
}
"""The code column and the meaning of the keys of `RULES` that are no status code."""


def status_rows(settings: UnlockSettings) -> list[StatusRow]:
    """The status table: every answer, its meaning and what the queue does with
    `settings`, in the order of `RULES`."""
    return [
        StatusRow(*_code_and_meaning(outcome), rule.describe(settings))
        for outcome, rule in RULES.items()
    ]


def _code_and_meaning(outcome: int | str) -> tuple[str, str]:
    if isinstance(outcome, int):
        return str(outcome), meaning_of(outcome)
    return _NOT_A_CODE[outcome]


def markdown_table(settings: UnlockSettings) -> str:
    """`status_rows` as the README's Markdown table."""
    lines = ["| code | meaning | what linkdeck does |", "|---|---|---|"]
    lines += [
        f"| {row.code} | {row.meaning} | {row.what_linkdeck_does} |"
        for row in status_rows(settings)
    ]
    return "\n".join(lines)
