"""Typed messages the workers post to the UI."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tui.api import AccountStatus, ApiError, HosterList, HosterMatcher, InsecureTransport


@dataclass
class AccountRefreshed(Message):
    account: AccountStatus
    at: float


@dataclass
class AccountFailed(Message):
    error: ApiError | InsecureTransport
    at: float
    retry_at: float


@dataclass
class HostersRefreshed(Message):
    hosters: HosterList
    at: float
    matcher: HosterMatcher
    """The list's matcher, built off the UI thread."""


@dataclass
class HostersFailed(Message):
    error: ApiError | InsecureTransport
    at: float
