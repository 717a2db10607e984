"""Server regexes in linear time: RE2, never Python's backtracking `re`.

A pattern such as `(x+x+)+y` took `re` exponential time on a 40-character
link: the CLI and the dashboard froze. Patterns RE2 cannot express are counted
and named with the invalid ones. For patterns both engines take, both agree.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from commandline import isolated_env
from hostile import HostileServer
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.api import Hoster, HosterMatcher

LOGIN, PIN = "123456789", "1111"
CATASTROPHIC = [r"(x+x+)+y", r"(a|aa)+$", r"(\w+\s?)+z", r"((a*)*)*b"]


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer(LOGIN, PIN) as hostile:
        hostile.results["hosterlist"] = {
            "hosters": {
                f"evil{n}.example": {"tlds": [f"evil{n}.example"], "regexes": [pattern]}
                for n, pattern in enumerate(CATASTROPHIC)
            }
            | {"lookaround.example": {"tlds": ["la.example"], "regexes": [r"(?=x)x", r"(a)\1"]}}
        }
        yield hostile


@pytest.mark.parametrize("text", ["x" * 40, "a" * 40 + "!", "word " * 12 + "!"])
def test_hosters_match_ends_at_once_on_a_catastrophic_pattern(
    text: str, server: HostileServer, tmp_path: Path
) -> None:
    env = isolated_env(
        tmp_path, LINKDECK_PASSWORD=PIN, LINKDECK_API_URL=server.url, LINKDECK_LOGIN=LOGIN
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "tui", "hosters", "--match", text],
        env=env,
        capture_output=True,
        timeout=60,  # `re` needed hours for these
    )
    assert result.returncode == 1, result.stderr  # no hoster serves it
    assert time.monotonic() - started < 60


def test_patterns_re2_cannot_express_are_counted_and_named() -> None:
    hosters = (
        Hoster("la.example", ("la.example",), (r"(?=x)x", r"(a)\1", r"https?://la\.example/.+")),
    )
    matcher = HosterMatcher(hosters)
    assert matcher.invalid_count == 2
    assert {entry.hoster for entry in matcher.invalid} == {"la.example"}
    assert all(isinstance(entry.error, str) and entry.error for entry in matcher.invalid)
    assert matcher.match("https://la.example/file") is not None


PIECES = ["a", "b", "1", ".", "[ab]", "[^a]", r"\d", "(a|b)", "(?:ab)", "a*", "b+", "a?", "x{1,3}"]
pattern_strategy = st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join)
text_strategy = st.text(alphabet="ab1x.", max_size=12)


@settings(max_examples=300, deadline=None)
@given(pattern=pattern_strategy, text=text_strategy)
def test_re2_and_re_agree_where_both_take_the_pattern(pattern: str, text: str) -> None:
    hoster = Hoster("h", ("h.example",), (pattern,))
    expected = re.match(pattern, text, re.IGNORECASE) is not None
    assert (HosterMatcher((hoster,)).match(text) is not None) == expected


def test_the_first_hoster_in_the_server_s_order_serves_a_link_many_patterns_match() -> None:
    # 3,000 patterns that name none of their hoster's domains, asked all at once:
    # the earliest that matches answers, as trying them one by one would.
    hosters = tuple(
        Hoster(f"mirror{n}", (f"own{n}.example",), (rf"https?://mirror\.example/{n % 700}/.*",))
        for n in range(3_000)
    )
    matcher = HosterMatcher(hosters)
    assert matcher.match("https://mirror.example/5/file").name == "mirror5"
    assert matcher.match("https://mirror.example/699/file").name == "mirror699"
    assert matcher.match("https://mirror.example/700/file") is None


def test_a_pattern_that_names_its_domain_is_asked_only_for_that_domain() -> None:
    # Escaped as `re.escape` does it ("dash\-host\.net") or not at all, the domain was
    # found; escaped in part ("dash-host\.net", the usual way) it was taken for a
    # pattern that names none, and asked for the links of every other domain.
    hoster = Hoster("dash-host.net", ("dash-host.net",), (r".*dash-host\.net/.+",))
    matcher = HosterMatcher((hoster,))
    assert matcher.match("https://dash-host.net/file").name == "dash-host.net"
    assert matcher.match("https://elsewhere.example/dash-host.net/file") is None
