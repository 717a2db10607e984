"""HTTPS for the emulator: a throw-away certificate authority, made at start,
and a server certificate it signs for this machine's names.

Nearly every real client of the service had `https://` written in, so the
emulator serves TLS as the service did. Clients trust the CA's certificate
(`ca_pem`), written to a file by `linkdeck emulator --tls`; the keys never
touch the disk. trustme makes certificates that Python's strict verification
accepts; it is imported only when TLS is asked for.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")
_ANY_ADDRESS = frozenset({"", "0.0.0.0", "::"})


class TlsIdentity:
    """A CA made now, and a certificate it signs for this machine and `host`."""

    def __init__(self, host: str) -> None:
        import trustme

        self._authority = trustme.CA(organization_name="linkdeck emulator")
        self._server = self._authority.issue_cert(*_names(host))

    @property
    def ca_pem(self) -> bytes:
        """The CA's certificate (PEM): what a client trusts to reach this server."""
        return self._authority.cert_pem.bytes()

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server.configure_cert(context)
        return context


def _names(host: str) -> Iterable[str]:
    """The names the certificate is good for: loopback always, and the host the
    emulator listens on unless that is every address."""
    yield from LOCAL_NAMES
    name = host.strip("[]")
    if name not in _ANY_ADDRESS and name not in LOCAL_NAMES:
        yield name
