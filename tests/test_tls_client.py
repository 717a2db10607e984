"""The HTTPS path, end to end: the client, `linkdeck status/hosters/unlock` and
the dashboard against `linkdeck emulator --tls`, trusting its CA through
`api.ca_file`; a certificate nobody trusts is refused with a sentence and the
PIN is not sent; a CA file that cannot be used is one sentence too.

Servers of the tests' own present the certificates the emulator never does: of
another name, expired, not yet valid.
"""

from __future__ import annotations

import datetime
import json
import os
import socketserver
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import trustme
from commandline import isolated_env, one_sentence
from deck import PREMIUM_LOGIN, PREMIUM_PIN, settle, wait_for
from loopback import LoopbackServer
from tlsemulator import EmulatorProcess, refused_handshakes, write_ca

from tui.api import (
    ApiClient,
    CaFileError,
    Credentials,
    TransportError,
    UntrustedCertificate,
)
from tui.app import LinkdeckApp
from tui.core import Connection, Profile
from tui.emulator import Emulator
from tui.settings import Settings, SettingsError, load_settings
from tui.unlock import ItemState
from tui.unlock.policy import UNTRUSTED_CERTIFICATE, rule_for

LINK = "https://uploaded.net/file/abcd1234/holiday.zip"
CREDENTIALS = Credentials(PREMIUM_LOGIN, PREMIUM_PIN)


@pytest.fixture
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(tls=True) as emu:
        yield emu


@pytest.fixture
def ca_file(tls_emulator: Emulator, tmp_path: Path) -> Path:
    return write_ca(tls_emulator, tmp_path)


def sent_nothing(emu: Emulator) -> bool:
    return sum(emu.stats.calls.values()) == 0


# --- the client ------------------------------------------------------------------


async def test_every_call_over_https_with_the_ca_file(
    tls_emulator: Emulator, ca_file: Path
) -> None:
    async with ApiClient(tls_emulator.url, CREDENTIALS, ca_file=str(ca_file)) as client:
        account = await client.account_status()
        hosters = await client.hoster_list()
        direct = await client.direct_download_link(LINK)
    assert account.account_name == PREMIUM_LOGIN
    assert hosters.hosters
    assert direct.location.startswith(f"{tls_emulator.base_url}/dl/")
    assert direct.location.startswith("https://")


async def test_an_unknown_ca_is_refused_before_the_pin_is_sent(tls_emulator: Emulator) -> None:
    async with ApiClient(tls_emulator.url, CREDENTIALS) as client:
        with pytest.raises(UntrustedCertificate) as caught:
            await client.account_status()
    sentence = str(caught.value)
    assert "not trusted" in sentence and "unable to get local issuer certificate" in sentence
    assert "the PIN was not sent" in sentence
    assert "set ca_file in [api]" in sentence
    assert sent_nothing(tls_emulator)
    assert refused_handshakes(tls_emulator, 1) == 1
    assert rule_for(caught.value).state is not ItemState.WAITING  # waiting will not make it trusted


async def test_the_ca_of_another_server_is_no_trust(tls_emulator: Emulator, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    async with ApiClient(tls_emulator.url, CREDENTIALS, ca_file=str(other)) as client:
        with pytest.raises(UntrustedCertificate):
            await client.direct_download_link(LINK)
    assert sent_nothing(tls_emulator)


class _TlsHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        owner: TlsServer = self.server.owner  # type: ignore[attr-defined]
        try:
            with owner.context.wrap_socket(self.request, server_side=True) as tls:
                owner.received += tls.recv(65536)
        except (ssl.SSLError, OSError):
            pass


class TlsServer(LoopbackServer):
    """Presents `certificate` on 127.0.0.1 and keeps whatever a client sends after the
    handshake (the request, with the PIN in its URL)."""

    def __init__(self, certificate: trustme.LeafCert) -> None:
        super().__init__(socketserver.ThreadingTCPServer, _TlsHandler)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(self.context)
        self.received = b""

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/pm-api/v1.php"


NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


@pytest.mark.parametrize(
    ("issue", "reason", "advice"),
    [
        (lambda ca: ca.issue_cert("api.example"), "IP address mismatch", "check the host name"),
        (
            lambda ca: ca.issue_cert("127.0.0.1", not_before=NOW - 9 * DAY, not_after=NOW - DAY),
            "certificate has expired",
            "",
        ),
        (
            lambda ca: ca.issue_cert("127.0.0.1", not_before=NOW + DAY, not_after=NOW + 9 * DAY),
            "certificate is not yet valid",
            "check this machine's clock",
        ),
    ],
    ids=["other name", "expired", "not yet valid"],
)
async def test_a_wrong_certificate_is_named_and_nothing_is_sent(
    tmp_path: Path, issue, reason: str, advice: str
) -> None:
    authority = trustme.CA()
    trusted = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(trusted))
    with TlsServer(issue(authority)) as server:
        async with ApiClient(server.url, CREDENTIALS, ca_file=str(trusted)) as client:
            with pytest.raises(UntrustedCertificate) as caught:
                await client.account_status()
    assert reason in str(caught.value) and advice in str(caught.value)
    assert f"127.0.0.1:{server.port}" in str(caught.value)
    assert server.received == b""


async def test_a_good_certificate_from_a_server_of_our_own_carries_the_request(
    tmp_path: Path,
) -> None:
    """The counterpart of the test above: the same server, a right certificate,
    and the request (with the PIN) arrives, so an empty `received` means something."""
    authority = trustme.CA()
    trusted = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(trusted))
    with TlsServer(authority.issue_cert("127.0.0.1")) as server:
        async with ApiClient(server.url, CREDENTIALS, ca_file=str(trusted), timeout=5) as client:
            with pytest.raises(TransportError):  # it answers nothing
                await client.account_status()
    assert b"GET /pm-api/v1.php?method=accountstatus" in server.received


async def test_https_to_a_plain_http_server_says_so() -> None:
    with Emulator() as plain:
        url = plain.url.replace("http://", "https://")
        async with ApiClient(url, CREDENTIALS, timeout=5) as client:
            with pytest.raises(TransportError) as caught:
                await client.account_status()
    assert "TLS handshake" in str(caught.value) and "https:// server?" in str(caught.value)
    assert not isinstance(caught.value, UntrustedCertificate)
    assert sent_nothing(plain)


# --- the CA file -----------------------------------------------------------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


BAD_CA_FILES = {
    "missing": (lambda path: None, "No such file or directory"),
    "a folder": (lambda path: path.mkdir(), "is not a regular file"),
    "a FIFO": (_fifo, "is not a regular file"),
    "empty": (lambda path: path.write_bytes(b""), "holds no certificate"),
    "text": (lambda path: path.write_text("not a certificate\n"), "holds no certificate"),
    "a key": (
        lambda path: path.write_bytes(trustme.CA().private_key_pem.bytes()),
        "holds no certificate",
    ),
    "huge": (lambda path: path.write_bytes(b"A" * (4 * 1024 * 1024 + 1)), "larger than 4 MB"),
}


@pytest.mark.parametrize("kind", list(BAD_CA_FILES))
def test_a_ca_file_that_cannot_be_used_is_one_sentence(tmp_path: Path, kind: str) -> None:
    make, reason = BAD_CA_FILES[kind]
    path = tmp_path / "ca.pem"
    make(path)
    with pytest.raises(CaFileError) as caught:
        ApiClient("https://127.0.0.1:1/pm-api/v1.php", CREDENTIALS, ca_file=str(path))
    assert str(caught.value).startswith(f"cannot read the CA file {path}") or str(
        caught.value
    ).startswith(f"the CA file {path}")
    assert reason in str(caught.value)
    assert "(ca_file in [api])" in str(caught.value)


def test_a_device_is_no_ca_file() -> None:
    with pytest.raises(CaFileError, match="is not a regular file"):
        ApiClient("https://127.0.0.1:1/pm-api/v1.php", CREDENTIALS, ca_file="/dev/zero")


@pytest.mark.parametrize("form", ["der", "bundle with comments", "home"])
async def test_a_ca_file_in_any_usual_form_is_trusted(
    tls_emulator: Emulator, tmp_path: Path, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = tls_emulator.ca_pem
    path = tmp_path / "ca.crt"
    setting = str(path)
    if form == "der":
        path.write_bytes(ssl.PEM_cert_to_DER_cert(pem.decode()))
    elif form == "bundle with comments":
        other = trustme.CA().cert_pem.bytes()
        path.write_bytes("# Zertifizierungsstelle Ü\n".encode() + other + b"\n# ours\n" + pem)
    else:
        monkeypatch.setenv("HOME", str(tmp_path))
        path.write_bytes(pem)
        setting = "~/ca.crt"
    async with ApiClient(tls_emulator.url, CREDENTIALS, ca_file=setting) as client:
        assert (await client.account_status()).account_name == PREMIUM_LOGIN


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ca.pem", "api.ca_file must be a full path, from / or ~"),
        ("/etc/ssl/ca\x1b[2J.pem", "api.ca_file must not contain control"),
        ("~nosuchuser4711/ca.pem", "the home folder of a user this machine does not know"),
        (7, "api.ca_file must be text in quotes"),
    ],
)
def test_the_setting_is_checked_where_it_is_read(
    tmp_path: Path, value: object, reason: str
) -> None:
    config = tmp_path / "config.toml"
    text = json.dumps(value) if isinstance(value, str) else str(value)
    config.write_text(f'[api]\nurl = "https://api.example/pm-api/v1.php"\nca_file = {text}\n')
    config.chmod(0o600)
    with pytest.raises(SettingsError) as caught:
        load_settings(config, {})
    assert reason in str(caught.value) and "(line 3)" in str(caught.value)


def test_the_policy_pauses_the_queue_on_a_refused_certificate() -> None:
    rule = rule_for(UntrustedCertificate("x"))
    assert (rule.state, rule.counts_as_attempt, rule.pause) == (
        ItemState.PENDING,
        False,
        UNTRUSTED_CERTIFICATE,
    )


# --- the commands, against `linkdeck emulator --tls` -------------------------------


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(tmp_path / "emulator") as running:
        yield running
        running.stop()


def linkdeck(tmp_path: Path, url: str, ca_file: Path | None, *args: str):
    config = tmp_path / "config.toml"
    config.write_text(f'[api]\nca_file = "{ca_file or ""}"\n')
    config.chmod(0o600)
    return subprocess.run(
        [sys.executable, "-m", "tui", *args, "--config", str(config), "--api-url", url],
        env=isolated_env(tmp_path, LINKDECK_LOGIN=PREMIUM_LOGIN, LINKDECK_PASSWORD=PREMIUM_PIN),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def test_the_commands_work_over_https(tmp_path: Path, emulator_process: EmulatorProcess) -> None:
    url, ca = emulator_process.url, emulator_process.ca_file
    status = linkdeck(tmp_path, url, ca, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["account_name"] == PREMIUM_LOGIN
    hosters = linkdeck(tmp_path, url, ca, "hosters", "--match", LINK)
    assert (hosters.returncode, hosters.stdout.split()[0]) == (0, "uploaded.net"), hosters
    unlocked = linkdeck(tmp_path, url, ca, "unlock", "--json", LINK)
    assert unlocked.returncode == 0, unlocked.stderr
    record = json.loads(unlocked.stdout)
    base = url.removesuffix("/pm-api/v1.php")
    assert record["state"] == "done" and record["location"].startswith(f"{base}/dl/")


@pytest.mark.parametrize("command", ["status", "hosters", "unlock"])
def test_the_commands_refuse_an_untrusted_certificate(
    tmp_path: Path, emulator_process: EmulatorProcess, command: str
) -> None:
    args = [command, LINK] if command == "unlock" else [command]
    result = linkdeck(tmp_path, emulator_process.url, None, *args)
    sentence = one_sentence(result, 4)
    assert sentence.startswith("linkdeck: the certificate of 127.0.0.1:")
    assert "not trusted" in sentence and "the PIN was not sent" in sentence
    assert PREMIUM_PIN not in result.stdout + result.stderr
    assert result.stdout == ""


def test_a_ca_file_that_cannot_be_used_ends_the_command(
    tmp_path: Path, emulator_process: EmulatorProcess
) -> None:
    missing = tmp_path / "nowhere.pem"
    result = linkdeck(tmp_path, emulator_process.url, missing, "status")
    sentence = one_sentence(result, 2)
    assert sentence == (
        f"linkdeck: cannot read the CA file {missing} (ca_file in [api]): No such file or directory"
    )


# --- the dashboard ------------------------------------------------------------------


def profile_for(tmp_path: Path, emu: Emulator, ca_file: str) -> Profile:
    settings = Settings()
    api = replace(
        settings.api, url=emu.url, login=PREMIUM_LOGIN, password=PREMIUM_PIN, ca_file=ca_file
    )
    return Profile(
        replace(settings, api=api),
        tmp_path / "config" / "config.toml",
        tmp_path / "data",
        tmp_path / "cache",
    )


async def test_the_dashboard_over_https(
    tmp_path: Path, tls_emulator: Emulator, ca_file: Path
) -> None:
    app = LinkdeckApp(profile_for(tmp_path, tls_emulator, str(ca_file)))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.session.engine is not None
        (item,) = app.session.engine.add(LINK)
        await settle(pilot, app)
        done = app.session.engine.items[item.id]
    assert done.state == ItemState.DONE
    assert done.location and done.location.startswith(f"{tls_emulator.base_url}/dl/")


async def test_the_dashboard_refuses_an_untrusted_certificate_until_the_settings_change(
    tmp_path: Path, tls_emulator: Emulator, ca_file: Path
) -> None:
    """Trusted, then a CA file of another server saved (the queue pauses, nothing
    is sent), then the right one again (the queue goes on): each applies at once."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    app = LinkdeckApp(profile_for(tmp_path, tls_emulator, str(ca_file)))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        settings = app.settings
        await app.apply_settings(replace(settings, api=replace(settings.api, ca_file=str(other))))
        await settle(pilot, app, account=False)
        panel = app.dashboard.account
        assert panel.connection is Connection.STALE
        assert panel.problem and "not trusted" in panel.problem
        notes = [(n.title, n.message) for n in app._notifications]
        assert [title for title, _ in notes].count("PIN not sent") == 1, notes
        assert any("set ca_file in [api]" in message for _, message in notes)
        tls_emulator.reset_stats()

        assert app.session.engine is not None
        (item,) = app.session.engine.add(LINK)
        await wait_for(pilot, lambda: app.session.engine.pause_reason == UNTRUSTED_CERTIFICATE)
        waiting = app.session.engine.items[item.id]
        assert waiting.state == ItemState.PENDING
        assert [attempt.counted for attempt in waiting.attempts] == [False]
        assert sent_nothing(tls_emulator)

        await app.apply_settings(settings)
        await settle(pilot, app)
        await wait_for(pilot, lambda: app.session.engine.items[item.id].state == ItemState.DONE)
        assert app.session.engine.pause_reason is None
        assert panel.connection is Connection.OK


async def test_the_dashboard_shows_a_ca_file_it_cannot_use(
    tmp_path: Path, tls_emulator: Emulator
) -> None:
    missing = tmp_path / "nowhere.pem"
    app = LinkdeckApp(profile_for(tmp_path, tls_emulator, str(missing)))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app, account=False, hosters=False)
        panel = app.dashboard.account
        assert panel.connection is Connection.UNREACHABLE
        assert panel.problem and str(missing) in panel.problem
        assert any(str(missing) in n.message for n in app._notifications)
    assert sent_nothing(tls_emulator)


@pytest.mark.parametrize("first", ["a refresh", "an unlock"])
async def test_a_renewed_ca_file_is_trusted_without_a_restart(
    tmp_path: Path, tls_emulator: Emulator, ca_file: Path, first: str
) -> None:
    """The server comes back with a new CA, written over the same file: the
    first call to meet it (a refresh, or an unlock long before the next poll) is
    refused, the file is seen to have changed, and the new CA is trusted."""
    app = LinkdeckApp(profile_for(tmp_path, tls_emulator, str(ca_file)))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert app.session.engine is not None
        port = tls_emulator.port
        tls_emulator.stop()
        with Emulator(port=port, tls=True) as renewed:
            ca_file.write_bytes(renewed.ca_pem)
            if first == "a refresh":
                await pilot.press("r")
            else:
                (item,) = app.session.engine.add(LINK)
            panel = app.dashboard.account
            await wait_for(
                pilot,
                lambda: (
                    renewed.stats.calls["accountstatus"] > 0 and panel.connection is Connection.OK
                ),
            )
            if first == "an unlock":
                await wait_for(
                    pilot, lambda: app.session.engine.items[item.id].state == ItemState.DONE
                )
            assert app.session.engine.pause_reason is None
            assert renewed.stats.refused_handshakes >= 1  # refused first, then trusted


async def test_a_ca_file_put_in_place_later_is_used_at_once(
    tmp_path: Path, tls_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started before the file exists (the server's CA not copied yet): the
    dashboard says so, looks for the file, and connects when it comes."""
    monkeypatch.setattr("tui.core.trust.CA_FILE_CHECK_SECONDS", 0.05)
    later = tmp_path / "later.pem"
    app = LinkdeckApp(profile_for(tmp_path, tls_emulator, str(later)))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, account=False, hosters=False)
        panel = app.dashboard.account
        assert panel.problem and "No such file or directory" in panel.problem
        later.write_text("not yet a certificate")  # a renewal half done
        await pilot.pause(0.3)
        assert panel.problem and "holds no certificate" in panel.problem
        later.write_bytes(tls_emulator.ca_pem)
        await settle(pilot, app)
        assert panel.connection is Connection.OK


@pytest.mark.parametrize("kind", ["missing", "no certificate", "a FIFO"])
def test_a_bad_ssl_cert_file_in_the_environment_is_one_sentence(tmp_path: Path, kind: str) -> None:
    """SSL_CERT_FILE replaces certifi's CAs (as httpx reads it): one that cannot
    be used is named, as a bad ca_file is, instead of a traceback or a wait on
    a FIFO (OpenSSL itself would read it for its default store)."""
    bundle = tmp_path / "bundle.pem"
    if kind == "no certificate":
        bundle.write_bytes(b"garbage\n")
    elif kind == "a FIFO":
        os.mkfifo(bundle)
    result = subprocess.run(
        [sys.executable, "-m", "tui", "status", "--demo"],
        env=isolated_env(tmp_path, SSL_CERT_FILE=str(bundle)),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    sentence = one_sentence(result, 2)
    assert f"the CA file {bundle} (SSL_CERT_FILE in the environment)" in sentence


def test_ssl_cert_file_names_the_cas_to_trust(
    tmp_path: Path, emulator_process: EmulatorProcess
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[api]\n")
    config.chmod(0o600)
    result = subprocess.run(
        [sys.executable, "-m", "tui", "status", "--config", str(config)],
        env=isolated_env(
            tmp_path,
            SSL_CERT_FILE=str(emulator_process.ca_file),
            LINKDECK_API_URL=emulator_process.url,
            LINKDECK_LOGIN=PREMIUM_LOGIN,
            LINKDECK_PASSWORD=PREMIUM_PIN,
        ),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert PREMIUM_LOGIN in result.stdout
