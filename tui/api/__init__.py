"""The async client of the legacy API: models, errors, parsing, matching.

No Textual imports here: the UI and the headless commands both use this layer.
"""

from tui.api.errors import (
    ApiError,
    CaFileError,
    FairUseExhausted,
    FileNotFound,
    Forbidden,
    HosterUnavailable,
    InsecureTransport,
    InvalidLink,
    LinkdeckError,
    LoginFailed,
    MalformedResponse,
    PaymentRequired,
    ServiceError,
    TemporaryError,
    TransportError,
    UndocumentedError,
    UnknownTechnicalError,
    UntrustedCertificate,
    meaning_of,
)
from tui.api.matcher import HosterMatcher, InvalidPattern, invalid_summary
from tui.api.models import AccountStatus, ConnectionSettings, DirectLink, Hoster, HosterList
from tui.api.parse import parse_account_status, parse_direct_link, parse_hoster_list
from tui.api.redact import redact, redact_url
from tui.api.transport import Credentials, check_transport, is_loopback


def __getattr__(name: str) -> object:
    # ApiClient brings httpx (a tenth of a second to import): loaded on first use.
    if name == "ApiClient":
        from tui.api.client import ApiClient

        return ApiClient
    raise AttributeError(f"module 'tui.api' has no attribute {name!r}")


__all__ = [
    "AccountStatus",
    "ApiClient",
    "ApiError",
    "CaFileError",
    "ConnectionSettings",
    "Credentials",
    "DirectLink",
    "FairUseExhausted",
    "FileNotFound",
    "Forbidden",
    "Hoster",
    "HosterList",
    "HosterMatcher",
    "HosterUnavailable",
    "InsecureTransport",
    "InvalidLink",
    "InvalidPattern",
    "LinkdeckError",
    "LoginFailed",
    "MalformedResponse",
    "PaymentRequired",
    "ServiceError",
    "TemporaryError",
    "TransportError",
    "UndocumentedError",
    "UnknownTechnicalError",
    "UntrustedCertificate",
    "check_transport",
    "invalid_summary",
    "is_loopback",
    "meaning_of",
    "parse_account_status",
    "parse_direct_link",
    "parse_hoster_list",
    "redact",
    "redact_url",
]
