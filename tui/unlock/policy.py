"""What the queue does after each answer of `directdownloadlink`: one table.

It follows the spec's advice and what mature clients did (see
spec/PROTOCOL-NOTES.md): 4xx ends the item, 5xx retries after a delay, some
answers hold a hoster or the whole account, some pause the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tui.api.errors import (
    ApiError,
    InsecureTransport,
    LinkdeckError,
    MalformedResponse,
    TransportError,
    UntrustedCertificate,
)
from tui.unlock.items import Item, ItemState


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
    status = error.status if isinstance(error, ApiError) else None
    if status in RULES:
        return status
    return "server error" if status is not None and status >= 500 else "client error"


def rule_for(error: LinkdeckError) -> Rule:
    return RULES[outcome_of(error)]


def asks_for_settings(error: LinkdeckError) -> bool:
    """Whether only new settings (or a change on the server) can end `error`."""
    return rule_for(error).pause in FIXED_BY_SETTINGS


def changes_hoster_status(item: Item) -> bool:
    """Whether `item`'s latest answer changes what is known of its hoster."""
    if item.state is ItemState.DONE:
        return True
    rule = RULES.get(item.status) if item.status is not None else None
    return rule is not None and rule.hold is HoldScope.HOSTER
