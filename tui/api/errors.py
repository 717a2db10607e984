"""Typed errors for every answer of the legacy API that is not a success.

Each error carries the status code and its meaning from the spec; what the
unlock queue does about it is `tui.unlock.policy`'s. Messages never contain a
URL unless it was redacted first.
"""

from __future__ import annotations


class LinkdeckError(Exception):
    """Base of every error the project raises on purpose."""


class ApiError(LinkdeckError):
    """Any failed call of the legacy API."""

    status: int | None = None
    meaning: str = "error"

    def __init__(self, message: str = "") -> None:
        self.server_message = message
        super().__init__(self.describe())

    def describe(self) -> str:
        code = "" if self.status is None else f"{self.status} "
        text = f"{code}{self.meaning}"
        if self.server_message and self.server_message.lower() != self.meaning.lower():
            text += f": {self.server_message}"
        return text


class ServiceError(ApiError):
    """The service answered with a status code other than 200."""


class InvalidLink(ServiceError):
    status, meaning = 400, "no valid link"


class LoginFailed(ServiceError):
    status, meaning = 401, "login failed"


class PaymentRequired(ServiceError):
    status, meaning = 402, "payment required: the account is not premium"


class Forbidden(ServiceError):
    status, meaning = 403, "forbidden"


class FileNotFound(ServiceError):
    status, meaning = 404, "file not found"


class HosterUnavailable(ServiceError):
    status, meaning = 428, "hoster currently not available"


class UnknownTechnicalError(ServiceError):
    status, meaning = 502, "unknown technical error"


class TemporaryError(ServiceError):
    status, meaning = 503, "temporary error or maintenance"


class FairUseExhausted(ServiceError):
    status, meaning = 509, "fair use limit exhausted"


class UndocumentedError(ServiceError):
    """A status outside the spec (0, 2 and 500 were seen in the wild)."""

    meaning = "undocumented error"

    def __init__(self, status: int, message: str = "") -> None:
        self.status = status
        super().__init__(message)


class TransportError(ApiError):
    """The service could not be reached: refused, DNS, timeout, reset."""

    meaning = "service unreachable"


class UntrustedCertificate(TransportError):
    """TLS refused the server's certificate: nothing was sent, the PIN least of all.
    Waiting will not help; the settings (`ca_file`) or the server must change."""

    meaning = "certificate not trusted"

    def describe(self) -> str:
        return self.server_message or self.meaning  # a whole sentence already


class MalformedResponse(ApiError):
    """The body is not the documented envelope: not JSON, wrong types, too big."""

    meaning = "malformed answer"


class InsecureTransport(LinkdeckError):
    """Credentials would travel in clear text to a non-loopback host."""

    meaning = "the PIN would travel unencrypted"


class CaFileError(LinkdeckError):
    """The CA file of the settings (`ca_file` in [api]) cannot be used; str() says why."""


STATUS_ERRORS: dict[int, type[ServiceError]] = {
    cls.status: cls
    for cls in (
        InvalidLink,
        LoginFailed,
        PaymentRequired,
        Forbidden,
        FileNotFound,
        HosterUnavailable,
        UnknownTechnicalError,
        TemporaryError,
        FairUseExhausted,
    )
    if cls.status is not None
}


def error_for_status(status: int, message: str) -> ServiceError:
    """The typed error for a non-200 JSON status."""
    cls = STATUS_ERRORS.get(status)
    if cls is None:
        return UndocumentedError(status, message)
    return cls(message)


def meaning_of(status: int | None) -> str:
    """Human meaning of a status code, for logs and help screens."""
    if status == 200:
        return "OK"
    cls = STATUS_ERRORS.get(status) if status is not None else None
    return cls.meaning if cls else "undocumented error"
