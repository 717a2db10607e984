"""Credentials and the rule for where they may travel. No httpx here, so the
settings and the first frame of the dashboard do not pay for importing it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tui.api.errors import InsecureTransport
from tui.secret import Secret


@dataclass(frozen=True)
class Credentials:
    """Who to log in as. The PIN is a `Secret`; a plain str given here is
    wrapped at once, so no attribute ever holds it as text."""

    login: str
    password: Secret = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.password, Secret):
            object.__setattr__(self, "password", Secret(self.password))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_transport(url: str, allow_insecure_http: bool = False) -> None:
    """Refuse to send credentials in clear text to a host beyond this machine."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme != "http" or not parts.hostname:
        raise InsecureTransport(f"the API URL must start with https:// (got {parts.scheme!r})")
    if is_loopback(parts.hostname) or allow_insecure_http:
        return
    raise InsecureTransport(
        f"refusing to send the PIN over plain http to {parts.hostname}: anyone on the way "
        "could read it; use https:// or set allow_insecure_http = true in [api]"
    )
