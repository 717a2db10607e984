"""What the client trusts over HTTPS, and one sentence when TLS refuses a server.

Trusted: what httpx trusts (certifi's CAs and the system's store, or what
`SSL_CERT_FILE` / `SSL_CERT_DIR` name instead) and the settings' `ca_file` (a
self-hosted or emulated service). CA files are read here, once, as untrusted input: a FIFO, a device
or a huge file is refused rather than waited on.
"""

from __future__ import annotations

import os
import re
import ssl
import stat

from tui.api.errors import CaFileError, TransportError, UntrustedCertificate

MAX_CA_FILE_BYTES = 4 * 1024 * 1024
"""A bundle of every public CA is about 300 KB."""
_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----"
)
# OpenSSL's verify codes for a chain that ends at a CA nobody trusts here.
_UNKNOWN_ISSUER = frozenset({2, 18, 19, 20, 21})
_NOT_YET_VALID = 9
_NAME_MISMATCH = frozenset({62, 64})
# What OpenSSL says when the other end speaks no TLS at all (plain HTTP, say).
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST"})


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """The context every HTTPS call verifies with: the CAs httpx would trust
    (the system's store and certifi's, or those `SSL_CERT_FILE` / `SSL_CERT_DIR`
    name instead), and `ca_file`. CaFileError names a file that cannot be used."""
    if bundle := os.environ.get("SSL_CERT_FILE"):
        # OpenSSL reads this file for its default store too, blocking on a FIFO:
        # instead it is read once, here, as carefully as `ca_file`.
        context = _trusting(None, bundle, "SSL_CERT_FILE in the environment")
    else:
        context = ssl.create_default_context()  # the system's store, or SSL_CERT_DIR's
        if not os.environ.get("SSL_CERT_DIR"):
            import certifi  # httpx's own CAs

            context.load_verify_locations(cafile=certifi.where())
    if ca_file:
        _trusting(context, ca_file, "ca_file in [api]")
    return context


def ca_file_version(ca_file: str) -> tuple[int, ...] | None:
    """What tells one content of `ca_file` from the next (a server's CA renewed
    under the same name): its identity, size and time of change."""
    if not ca_file:
        return None
    try:
        found = os.stat(os.path.expanduser(ca_file))
    except OSError:
        return None
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def _trusting(context: ssl.SSLContext | None, ca_file: str, source: str) -> ssl.SSLContext:
    """`context` (or a new default one) trusting the certificates of `ca_file`."""
    path = os.path.expanduser(ca_file)
    where = f"the CA file {path} ({source})"
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise CaFileError(f"cannot read {where}: {error.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise CaFileError(f"{where} is not a regular file")
        data = _read_at_most(descriptor, MAX_CA_FILE_BYTES + 1)
    except OSError as error:
        raise CaFileError(f"cannot read {where}: {error.strerror}") from None
    finally:
        os.close(descriptor)
    if len(data) > MAX_CA_FILE_BYTES:
        raise CaFileError(f"{where} is larger than 4 MB: it is no certificate file")
    # Only the certificates of a PEM file: bundles carry comments in any encoding.
    blocks = _PEM_CERTIFICATE.findall(data)
    certificates = b"\n".join(blocks).decode() if blocks else data
    try:
        if context is None:
            return ssl.create_default_context(cadata=certificates)
        context.load_verify_locations(cadata=certificates)
    except (ValueError, ssl.SSLError):
        raise CaFileError(f"{where} holds no certificate, or a damaged one (PEM or DER)") from None
    return context


def _read_at_most(descriptor: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := os.read(descriptor, limit - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def tls_failure(error: BaseException, host: str) -> TransportError | None:
    """The error to raise when `error` (from httpx) is TLS failing with `host`,
    else None. Raised before the request was sent: the PIN never left."""
    cause = _ssl_cause(error)
    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = (cause.verify_message or cause.reason or "not valid").rstrip(".")
        sentence = f"the certificate of {host} is not trusted ({reason}); the PIN was not sent"
        code = cause.verify_code
        if code in _UNKNOWN_ISSUER:
            sentence += "; if the server is yours, set ca_file in [api] to its CA certificate"
        elif code == _NOT_YET_VALID:
            sentence += "; check this machine's clock"
        elif code in _NAME_MISMATCH:
            sentence += "; check the host name in the API URL"
        return UntrustedCertificate(sentence)
    if isinstance(cause, ssl.SSLError):
        reason = (cause.reason or "handshake failed").lower().replace("_", " ")
        sentence = f"the TLS handshake with {host} failed ({reason})"
        if cause.reason in _NOT_TLS:
            sentence += ": is it an https:// server?"
        return TransportError(sentence)
    return None


def _ssl_cause(error: BaseException | None) -> ssl.SSLError | None:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ssl.SSLError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
