"""Link extraction from pasted text, by example and property-based."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tui.unlock.extract import extract_links


def test_messy_paste() -> None:
    text = (
        "Part 1: <https://uploaded.net/file/abc12345/a.zip>, part 2 (https://1fichier.com/?abc123).\n"
        '\t"https://rapidgator.net/file/x/b.rar"; [http://ul.to/abcdefgh]!\r\n'
        "again: https://uploaded.net/file/abc12345/a.zip"
    )
    assert extract_links(text) == [
        "https://uploaded.net/file/abc12345/a.zip",
        "https://1fichier.com/?abc123",
        "https://rapidgator.net/file/x/b.rar",
        "http://ul.to/abcdefgh",
    ]


def test_brackets_that_belong_to_the_link_stay() -> None:
    assert extract_links("(see https://en.wikipedia.org/wiki/A_(b))") == [
        "https://en.wikipedia.org/wiki/A_(b)"
    ]


def test_no_links() -> None:
    assert extract_links("") == []
    assert extract_links("ftp://x.org/a http:// https:///path mailto:a@b") == []


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_label = st.text(_ALNUM + "-", min_size=1, max_size=12).filter(
    lambda s: not s.startswith("-") and not s.endswith("-")
)
_host = st.lists(_label, min_size=1, max_size=3).map(".".join)
_path = st.text(_ALNUM + "-_~/=&%+.?#@!$*,;:", max_size=40)
_end = st.sampled_from(list(_ALNUM + "/_-~=&%+#@$*"))
urls = st.builds(
    lambda scheme, host, path, end: f"{scheme}://{host}/{path}{end}",
    st.sampled_from(["http", "https", "HTTPS"]),
    _host,
    _path,
    _end,
)
_wrappers = st.sampled_from(
    [("", ""), ("<", ">"), ("(", ")"), ('"', '"'), ("'", "'"), ("[", "]"), ("(<", ">)")]
)
_trailing = st.text(".,;:!?)]}>'\"", max_size=3)
# Any Unicode whitespace str.split() knows, including non-breaking and ideographic spaces.
_space = st.text(" \t\n\r\x0b\x0c\x1c\x85\xa0\u2003\u2028\u3000", min_size=1, max_size=4)


@given(st.lists(st.tuples(urls, _wrappers, _trailing, _space), max_size=12))
def test_wrapped_urls_come_back_in_order_once(parts: list) -> None:
    text = "".join(
        f"{open_}{url}{close}{tail}{space}" for url, (open_, close), tail, space in parts
    )
    expected = list(dict.fromkeys(url for url, *_ in parts))
    assert extract_links(text) == expected


@given(st.text())
def test_never_raises_and_only_returns_http_links(text: str) -> None:
    for link in extract_links(text):
        assert link.lower().startswith(("http://", "https://"))
        assert not any(char.isspace() for char in link)


@given(
    st.lists(
        st.sampled_from(
            [
                "https://a.example/x",
                "http://b.example/y?z=1",
                "word",
                "",
                "  ",
                "<https://a.example/x>,",
                "ftp://c.example/f",
                "\t",
            ]
        ),
        max_size=30,
    )
)
def test_a_paste_is_read_as_extract_links_reads_it(pieces: list[str]) -> None:
    from tui.unlock.extract import read_pasted

    text = "\n".join(" ".join(pieces[i : i + 3]) for i in range(0, len(pieces), 3))
    pasted = read_pasted(text)
    assert pasted.links == extract_links(text)
    assert all(not extract_links(line) and line.strip() for line in pasted.not_links)
    assert len(pasted.repeated) == len(set(pasted.repeated))
    assert set(pasted.repeated) <= set(pasted.links)
