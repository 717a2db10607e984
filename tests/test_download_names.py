"""The file name of a download: from Content-Disposition, the unlock answer or
the URL, made a safe single path component whatever the server sends."""

from __future__ import annotations

import os
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from tui.download.names import MAX_NAME_BYTES, download_name, fit

FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def answer_name(text: str) -> str:
    """The name an unlock answer's filename `text` alone gives."""
    return download_name(None, text, "")


def assert_safe(name: str) -> None:
    assert name
    assert os.sep not in name and "/" not in name and "\\" not in name
    assert name not in (".", "..") and not name.startswith(".")
    assert not any(unicodedata.category(ch) in FORBIDDEN_CATEGORIES for ch in name), ascii(name)
    assert name == name.strip()
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES


@given(st.text())
def test_any_text_becomes_a_answer_name(text: str) -> None:
    name = answer_name(text)
    assert_safe(name)
    assert answer_name(name) == name


@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=600))
def test_long_names_are_cut_within_the_byte_limit(text: str) -> None:
    assert_safe(answer_name(text))


def test_filename_star_is_preferred_over_filename() -> None:
    header = "attachment; filename=\"EURO rates.txt\"; filename*=UTF-8''%e2%82%ac%20rates.txt"
    assert download_name(header, None, "https://h/x") == "€ rates.txt"
    header = "attachment; filename*=UTF-8''%e2%82%ac%20rates.txt; filename=\"EURO rates.txt\""
    assert download_name(header, None, "https://h/x") == "€ rates.txt"


def test_plain_filename_and_other_charsets() -> None:
    assert download_name('attachment; filename="a b.zip"', None, "https://h/x") == "a b.zip"
    assert download_name("attachment; filename*=ISO-8859-1''%A3.txt", None, "") == "£.txt"


def test_the_answer_then_the_url_when_the_header_says_nothing() -> None:
    assert download_name("inline", "from-answer.rar", "https://h/f/u.zip") == "from-answer.rar"
    assert download_name(None, None, "https://h/f/My%20File.zip?x=1") == "My File.zip"
    assert download_name(None, "", "https://h/") == "download"
    assert download_name(None, None, "http://[/x.zip") == "download"  # not a URL


def test_a_name_that_cleans_to_nothing_gives_way_to_the_next_source() -> None:
    assert download_name('attachment; filename=" . .. "', "ok.bin", "https://h/u") == "ok.bin"


def test_hostile_names() -> None:
    assert download_name('attachment; filename="../../etc/passwd"', None, "") == "_.._etc_passwd"
    assert answer_name("..") == "download"
    assert answer_name(".bashrc") == "bashrc"
    assert answer_name("a\u202etxt.exe") == "atxt.exe"
    assert answer_name("x\x00y\x1b[31m\x7f\x85z") == "xy[31mz"
    assert answer_name("C:\\Windows\\evil.dll") == "C:_Windows_evil.dll"
    assert answer_name("  name.zip \n") == "name.zip"


def test_a_long_name_keeps_its_extension() -> None:
    name = answer_name("é" * 1000 + ".tar")
    assert name.endswith(".tar") and len(name.encode()) <= MAX_NAME_BYTES
    assert name.encode().decode("utf-8") == name  # cut at a character boundary


def test_fit_leaves_room_for_a_suffix() -> None:
    name = fit("a" * 300 + ".mkv", 200)
    assert len(name) == 200 and name.endswith(".mkv")


@given(st.text(), st.one_of(st.none(), st.text()), st.text())
def test_any_header_answer_and_url_give_a_safe_name(
    header: str, answer: str | None, url: str
) -> None:
    assert_safe(download_name(header, answer, url))


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_any_encoded_filename_star_gives_a_safe_name(text: str) -> None:
    from urllib.parse import quote

    header = f"attachment; filename*=UTF-8''{quote(text, safe='')}"
    assert_safe(download_name(header, None, "https://h/"))
