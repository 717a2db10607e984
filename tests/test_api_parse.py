"""Pure parsing of the legacy API's answers, without I/O."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.api import (
    ApiError,
    FairUseExhausted,
    HosterUnavailable,
    InvalidLink,
    LoginFailed,
    MalformedResponse,
    UndocumentedError,
    parse_account_status,
    parse_direct_link,
    parse_hoster_list,
)
from tui.api.errors import STATUS_ERRORS, meaning_of
from tui.api.parse import MAX_BODY_BYTES
from tui.unlock import HoldScope, ItemState
from tui.unlock.policy import rule_for


def envelope(result: object, status: int = 200, message: str = "OK") -> bytes:
    return json.dumps({"result": result, "status": status, "statusmessage": message}).encode()


ACCOUNT = {
    "account_name": "123456789",
    "type": "premium",
    "expires": 1445576744,
    "fairuse_left": 0.7893,
    "trafficleft_bytes": 847524522755,
    "trafficleft_gigabytes": 789.3187,
    "extuid": "abc",
}


def test_account_status_reads_fields_by_key_and_ignores_deprecated_ones() -> None:
    body = envelope({"new_field": [1, 2], **ACCOUNT})
    account = parse_account_status(200, body)
    assert account.account_name == "123456789"
    assert account.type == "premium"
    assert account.can_download
    assert account.expires == 1445576744
    assert account.fairuse_left == pytest.approx(0.7893)
    assert account.extuid == "abc"
    assert not hasattr(account, "trafficleft_bytes")


@pytest.mark.parametrize(("raw", "clamped"), [(-0.5, 0.0), (1.7, 1.0), (0, 0.0), (1, 1.0)])
def test_fairuse_left_is_clamped(raw: float, clamped: float) -> None:
    account = parse_account_status(200, envelope({**ACCOUNT, "fairuse_left": raw}))
    assert account.fairuse_left == clamped


def test_expires_may_be_null_and_free_accounts_cannot_download() -> None:
    account = parse_account_status(200, envelope({**ACCOUNT, "expires": None, "type": "free"}))
    assert account.expires is None
    assert not account.can_download


def test_models_are_immutable() -> None:
    account = parse_account_status(200, envelope(ACCOUNT))
    with pytest.raises(AttributeError):
        account.type = "free"  # type: ignore[misc]


def test_hoster_list_with_connection_settings() -> None:
    result = {
        "hosters": {
            "uploaded.net": {"tlds": ["uploaded.net", "ul.to"], "regexes": ["https?://ul\\.to/.+"]},
            "1fichier.com": {"tlds": ["1fichier.com"], "regexes": ["https?://1fichier\\.com/.+"]},
        },
        "regexlist": [],
        "tldlist": [],
        "hosterlist": ["uploaded.net", "1fichier.com"],
        "connection_settings": {
            "all": {"max_connections_per_file": 1, "max_connections_per_hoster": 4, "resume": True},
            "uploaded.net": {"max_connections_per_file": 2, "resume": False},
        },
    }
    hosters = parse_hoster_list(200, envelope(result))
    assert [h.name for h in hosters.hosters] == ["1fichier.com", "uploaded.net"]
    uploaded = hosters.hosters[1]
    assert uploaded.tlds == ("uploaded.net", "ul.to")
    assert uploaded.connection_settings is not None
    assert uploaded.connection_settings.max_connections_per_file == 2
    assert uploaded.connection_settings.max_connections_per_hoster is None
    assert uploaded.connection_settings.resume is False
    assert hosters.hosters[0].connection_settings is None
    assert hosters.default_connection_settings is not None
    assert hosters.default_connection_settings.max_connections_per_hoster == 4


def test_direct_link_keeps_filename_and_filesize() -> None:
    result = {"location": "https://dl.example/x/file.bin", "filename": "file.bin", "filesize": 42}
    link = parse_direct_link(200, envelope(result))
    assert (link.location, link.filename, link.filesize) == (
        "https://dl.example/x/file.bin",
        "file.bin",
        42,
    )
    bare = parse_direct_link(200, envelope({"location": "http://h/x"}))
    assert bare.filename is None and bare.filesize is None


@pytest.mark.parametrize("status", sorted(STATUS_ERRORS))
@pytest.mark.parametrize("http_status", ["mirrored", 200])
def test_every_documented_code_is_a_typed_error(status: int, http_status: object) -> None:
    http = status if http_status == "mirrored" else 200
    with pytest.raises(STATUS_ERRORS[status]) as caught:
        parse_direct_link(http, envelope([], status, "server says no"))
    error = caught.value
    assert error.status == status
    assert error.meaning == meaning_of(status)
    assert "server says no" in str(error)


@pytest.mark.parametrize(
    ("status", "state", "delay", "hold"),
    [
        (400, ItemState.FAILED, None, HoldScope.NONE),
        (401, ItemState.PENDING, None, HoldScope.NONE),
        (402, ItemState.FAILED, None, HoldScope.NONE),
        (403, ItemState.FAILED, None, HoldScope.NONE),
        (404, ItemState.FAILED, None, HoldScope.NONE),
        (428, ItemState.FAILED, "hoster_hold", HoldScope.HOSTER),
        (502, ItemState.WAITING, "retry_delay", HoldScope.NONE),
        (503, ItemState.WAITING, "retry_delay", HoldScope.NONE),
        (509, ItemState.WAITING, "fair_use_delay", HoldScope.ACCOUNT),
        (500, ItemState.WAITING, "retry_delay", HoldScope.NONE),
        (0, ItemState.FAILED, None, HoldScope.NONE),
        (2, ItemState.FAILED, None, HoldScope.NONE),
    ],
)
def test_the_policy_follows_the_spec(
    status: int, state: ItemState, delay: str | None, hold: HoldScope
) -> None:
    with pytest.raises(ApiError) as caught:
        parse_account_status(200, envelope([], status, "x"))
    rule = rule_for(caught.value)
    assert (rule.state, rule.delay, rule.hold) == (state, delay, hold)


def test_undocumented_codes_show_the_servers_message() -> None:
    with pytest.raises(UndocumentedError) as caught:
        parse_direct_link(200, envelope([], 0, "Daily limit reached for this host!"))
    assert "Daily limit reached for this host!" in str(caught.value)
    assert caught.value.status == 0


def test_error_classes_are_distinct() -> None:
    assert LoginFailed().status == 401
    assert rule_for(InvalidLink()).state is ItemState.FAILED
    assert rule_for(HosterUnavailable()).hold is HoldScope.HOSTER
    assert rule_for(FairUseExhausted()).state is ItemState.WAITING


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"result": {}, "status": 200',
        b"[]",
        b'{"result": {}}',
        b'{"status": "two hundred", "result": {}}',
        b'{"status": 200, "statusmessage": "OK"}',
        b'{"status": 200, "result": []}',
        b'{"status": 200, "result": {"account_name": 5, "type": "premium"}}',
        b'{"status": 200, "result": {"account_name": "a", "type": "premium", "expires": null,'
        b' "fairuse_left": "lots"}}',
        b'{"status": 200, "result": {"account_name": "a", "type": "premium", "expires": null,'
        b' "fairuse_left": NaN}}',
        b"[" * 100_000,
    ],
)
def test_malformed_bodies_are_malformed_responses(body: bytes) -> None:
    with pytest.raises(MalformedResponse):
        parse_account_status(200, body)


def test_body_over_the_size_cap_is_refused() -> None:
    body = envelope({**ACCOUNT, "padding": "x" * MAX_BODY_BYTES})
    with pytest.raises(MalformedResponse, match="larger than"):
        parse_account_status(200, body)


def test_html_error_page_is_named() -> None:
    with pytest.raises(MalformedResponse, match="HTML"):
        parse_hoster_list(502, b"<!DOCTYPE html><title>502</title>")


def test_status_message_is_cut_and_cleaned() -> None:
    with pytest.raises(ApiError) as caught:
        parse_direct_link(404, envelope([], 404, "\x1b]52;c;aGk=\x07gone" + "y" * 1000))
    text = str(caught.value)
    assert "\x1b" not in text and "\x07" not in text
    assert len(text) < 300


def test_location_must_be_http() -> None:
    with pytest.raises(MalformedResponse):
        parse_direct_link(200, envelope({"location": "javascript:alert(1)"}))


PARSERS = [parse_account_status, parse_hoster_list, parse_direct_link]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "account_name",
        "type",
        "expires",
        "fairuse_left",
        "hosters",
        "tlds",
        "regexes",
        "location",
        "filename",
        "filesize",
        "connection_settings",
        "x",
    ]
)
plausible_results = st.dictionaries(field_names, json_values, max_size=8)


@settings(max_examples=300, deadline=None)
@given(http_status=st.integers(0, 999), body=st.binary(max_size=200))
def test_arbitrary_bytes_give_a_model_or_a_project_error(http_status: int, body: bytes) -> None:
    for parse in PARSERS:
        with contextlib.suppress(ApiError):
            parse(http_status, body)


@settings(max_examples=300, deadline=None)
@given(
    result=json_values | plausible_results,
    status=st.one_of(st.just(200), st.integers(-5, 999), json_values),
    message=json_values,
)
def test_arbitrary_json_gives_a_model_or_a_project_error(
    result: object, status: object, message: object
) -> None:
    body = json.dumps({"result": result, "status": status, "statusmessage": message}).encode()
    for parse in PARSERS:
        with contextlib.suppress(ApiError):
            parse(200, body)
