from __future__ import annotations

import pytest

from tui.api import Hoster, HosterMatcher, InsecureTransport, check_transport, redact_url
from tui.api.redact import redact

HOSTERS = (
    Hoster(
        "uploaded.net", ("uploaded.net", "ul.to"), (r"https?://(www\.)?(uploaded\.net|ul\.to)/.+",)
    ),
    Hoster(
        "rapidgator.net",
        ("rapidgator.net",),
        (r"https?://(www\.)?rapidgator\.host/.*)", r"https?://(www\.)?rapidgator\.net/file/.+"),
    ),
    Hoster("mega.nz", ("mega.nz",), (r"https?://mega\.nz/(?<kind>file|folder)/.+",)),
)


def test_matches_by_pattern_and_skips_the_broken_regex() -> None:
    matcher = HosterMatcher(HOSTERS)
    assert matcher.invalid_count == 1
    assert matcher.invalid[0].hoster == "rapidgator.net"
    assert matcher.match("https://ul.to/abc").name == "uploaded.net"
    assert matcher.match("http://www.uploaded.net/file/x").name == "uploaded.net"
    assert matcher.match("https://rapidgator.net/file/123/x.rar").name == "rapidgator.net"
    assert matcher.match("https://mega.nz/file/xyz").name == "mega.nz"
    assert matcher.match("https://example.com/file") is None
    assert matcher.match("not a url") is None


def test_a_pattern_for_another_domain_is_still_found() -> None:
    odd = Hoster("odd", ("odd.example",), (r"https?://mirror\.example/odd/.+",))
    assert HosterMatcher((odd,)).match("https://mirror.example/odd/1").name == "odd"


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example/pm-api/v1.php",
        "http://127.0.0.1:8080/pm-api/v1.php",
        "http://localhost/pm-api/v1.php",
        "http://[::1]:9/pm-api/v1.php",
    ],
)
def test_credentials_may_go_to_https_or_loopback(url: str) -> None:
    check_transport(url)


def test_plain_http_elsewhere_is_refused_unless_allowed() -> None:
    with pytest.raises(InsecureTransport, match="plain http"):
        check_transport("http://api.example/pm-api/v1.php")
    check_transport("http://api.example/pm-api/v1.php", allow_insecure_http=True)
    with pytest.raises(InsecureTransport):
        check_transport("ftp://api.example/")


def test_redaction_of_raw_and_encoded_pass_params() -> None:
    raw = "https://h/pm-api/v1.php?method=x&params[login]=1&params[pass]=s3cret&params[link]=l"
    encoded = "https://h/pm-api/v1.php?params%5Bpass%5D=s3cret&method=x"
    lower = "https://h/?params%5bpass%5d=s3cret"
    for url in (raw, encoded, lower):
        assert "s3cret" not in redact_url(url)
        assert "***" in redact_url(url)
    assert "params[link]=l" in redact_url(raw)
    assert redact("pin is p%40ss or p@ss", "p@ss") == "pin is *** or ***"
