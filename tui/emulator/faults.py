"""Switchable faults: what a flaky real service and its proxies did to clients."""

from __future__ import annotations

from dataclasses import dataclass

NGINX_502_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass
class Faults:
    """Fault switches, read once per request so they can change while serving.

    All default to off. ``seed`` seeds the random draws behind ``error_rate``,
    ``jitter_ms`` and ``dl_drop_after`` so a test run is repeatable. The ``dl_``
    ones apply to direct downloads under /dl/, the others to the API.
    """

    latency_ms: int = 0
    jitter_ms: int = 0
    error_rate: float = 0.0
    malformed_json: bool = False
    html_error_page: bool = False
    connection_reset: bool = False
    hang_seconds: float = 0.0
    huge_body_bytes: int = 0
    generated_hosters: int = 0
    dl_rate: int = 0
    """Bytes per second per download connection (0: as fast as the socket goes)."""
    dl_max_per_file: int = 0
    """Download connections at once to one file; beyond it 503 (0: no limit)."""
    dl_max_per_client: int = 0
    """Download connections at once from one client address; beyond it 429 (0: no limit)."""
    dl_drop_after: float = 0.0
    """The probability that a download is cut after a random number of bytes of its body."""
    dl_drop_min_bytes: int = 0
    dl_drop_max_bytes: int = 0
    """With a maximum, a cut falls after min..max bytes (a shorter body comes whole);
    without, anywhere in the body."""
    dl_expire_minutes: float = 0.0
    """Minutes after its unlock that a location answers 410 Gone (0: never)."""
    seed: int = 0


def pad_body(body: bytes, size: int) -> bytes:
    """Grow a JSON object body to ``size`` bytes with an extra top-level field.

    Clients must read fields by key and ignore the rest, so this stays a valid answer.
    """
    head = body[:-1] + b',"padding":"'
    fill = size - len(head) - 2
    if fill <= 0:
        return body
    return head + b"x" * fill + b'"}'


def truncate_body(body: bytes) -> bytes:
    """Cut a JSON body in half, as a dropped upstream connection would."""
    return body[: max(1, len(body) // 2)]
