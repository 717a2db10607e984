"""Typed, immutable models of what the legacy API answers."""

from __future__ import annotations

from dataclasses import dataclass

ACCOUNT_TYPES = ("premium", "trial", "prepaid", "free")


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """The answer of `accountstatus`."""

    account_name: str
    type: str
    expires: int | None
    """Unix time of the end of the subscription; None means no expiry."""
    fairuse_left: float
    """Share of the fair-use allowance still available, clamped to 0..1."""
    extuid: str | None = None

    @property
    def can_download(self) -> bool:
        """Every account type but free can download."""
        return self.type != "free"


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Per-hoster download limits (undocumented, read by real clients)."""

    max_connections_per_file: int | None = None
    max_connections_per_hoster: int | None = None
    resume: bool | None = None


@dataclass(frozen=True, slots=True)
class Hoster:
    name: str
    tlds: tuple[str, ...]
    regexes: tuple[str, ...]
    connection_settings: ConnectionSettings | None = None


@dataclass(frozen=True, slots=True)
class HosterList:
    """The answer of `hosterlist`: hosters sorted by name."""

    hosters: tuple[Hoster, ...]
    default_connection_settings: ConnectionSettings | None = None
    """The settings keyed "all", applying to hosters without their own."""


@dataclass(frozen=True, slots=True)
class DirectLink:
    """The answer of `directdownloadlink`."""

    location: str
    filename: str | None = None
    filesize: int | None = None
