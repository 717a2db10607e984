"""`linkdeck emulator --tls` and `Emulator(tls=True)`, checked with plain httpx
and raw sockets, never with linkdeck's client: HTTPS as nearly every real client
of the service spoke it, the CA written to the file the start line names."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from commandline import isolated_env
from tlsemulator import EmulatorProcess, refused_handshakes

from tui.emulator import Emulator

LOGIN, PIN = "111111111", "1111"
LINK = "https://uploaded.net/file/abcd1234/holiday.zip"


def trusting(ca_pem: bytes) -> ssl.SSLContext:
    """A client context that trusts this CA alone (not certifi, not the system)."""
    return ssl.create_default_context(cadata=ca_pem.decode())


def query(method: str, **extra: str) -> dict[str, str]:
    return {"method": method, "params[login]": LOGIN, "params[pass]": PIN, **extra}


@pytest.fixture
def tls_emulator() -> Iterator[Emulator]:
    with Emulator(tls=True) as emu:
        yield emu


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(tmp_path) as running:
        yield running


def test_the_command_serves_https_and_names_its_ca_file(
    emulator_process: EmulatorProcess,
) -> None:
    ca_pem = emulator_process.ca_file.read_bytes()
    assert ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY" not in ca_pem  # the keys never reach the disk
    with httpx.Client(verify=trusting(ca_pem)) as client:
        answer = client.get(emulator_process.url, params=query("accountstatus"))
        assert (answer.status_code, answer.json()["status"]) == (200, 200)
        unlocked = client.get(
            emulator_process.url, params=query("directdownloadlink", **{"params[link]": LINK})
        )
        location = unlocked.json()["result"]["location"]
        base = emulator_process.url.removesuffix("/pm-api/v1.php")
        assert location.startswith(f"{base}/dl/")  # https, as the API itself
        part = client.get(location, headers={"Range": "bytes=0-99"})
        assert (part.status_code, len(part.content)) == (206, 100)
    assert emulator_process.stop() == 0
    assert not emulator_process.ca_file.exists()  # a temporary file, removed at the end


def test_without_its_ca_the_certificate_is_refused(emulator_process: EmulatorProcess) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(emulator_process.url, params=query("accountstatus"))


def test_the_ca_file_goes_where_asked_and_stays(tmp_path: Path) -> None:
    target = tmp_path / "trust" / "emulator-ca.pem"
    target.parent.mkdir()
    target.write_text("an older certificate")
    running = EmulatorProcess(tmp_path, "--ca-out", str(target))
    try:
        assert running.ca_file == target
        with httpx.Client(verify=trusting(target.read_bytes())) as client:
            assert client.get(running.url, params=query("accountstatus")).status_code == 200
    finally:
        assert running.stop() == 0
    assert target.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left


def test_a_ca_file_behind_a_link_is_written_where_the_link_points(tmp_path: Path) -> None:
    target, link = tmp_path / "real-ca.pem", tmp_path / "ca.pem"
    link.symlink_to(target)
    running = EmulatorProcess(tmp_path, "--ca-out", str(link))
    assert running.stop() == 0
    assert link.is_symlink() and target.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (lambda tmp: ["--ca-out", "x.pem"], "--ca-out is for --tls"),
        (
            lambda tmp: ["--tls", "--ca-out", str(tmp / "no" / "ca.pem")],
            "cannot write the CA certificate to {tmp}/no/ca.pem: No such file or directory",
        ),
        (
            lambda tmp: ["--tls", "--ca-out", str(_fifo(tmp / "fifo"))],
            "cannot write the CA certificate to {tmp}/fifo: it is not a regular file",
        ),
        (
            lambda tmp: ["--tls", "--ca-out", str(_folder(tmp / "folder"))],
            "cannot write the CA certificate to {tmp}/folder: it is not a regular file",
        ),
    ],
    ids=["without --tls", "no folder", "a FIFO", "a folder"],
)
def test_a_ca_file_that_cannot_be_written_is_one_sentence(
    tmp_path: Path, args, reason: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui", "emulator", "--port", "0", *args(tmp_path)],
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"linkdeck: {reason.format(tmp=tmp_path)}")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_certificate_names_this_machine(tls_emulator: Emulator, host: str) -> None:
    url = tls_emulator.url.replace("127.0.0.1", host)
    answer = httpx.get(url, params=query("hosterlist"), verify=trusting(tls_emulator.ca_pem))
    assert answer.json()["status"] == 200


def test_the_api_answers_post_over_https_too(tls_emulator: Emulator) -> None:
    with httpx.Client(verify=trusting(tls_emulator.ca_pem)) as client:
        answer = client.post(tls_emulator.url, data=query("accountstatus"))
    assert answer.json()["result"]["account_name"] == LOGIN


def test_a_restart_keeps_the_certificate(tls_emulator: Emulator) -> None:
    before = tls_emulator.ca_pem
    tls_emulator.restart()
    assert tls_emulator.ca_pem == before
    answer = httpx.get(tls_emulator.url, params=query("accountstatus"), verify=trusting(before))
    assert answer.status_code == 200


def test_a_refused_handshake_is_counted_and_no_request_arrives(tls_emulator: Emulator) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(tls_emulator.url, params=query("accountstatus"))
    assert refused_handshakes(tls_emulator, 1) == 1
    assert set(tls_emulator.stats.calls.values()) == {0}


def test_a_client_that_never_shakes_hands_holds_up_nobody(tls_emulator: Emulator) -> None:
    port = int(tls_emulator.url.split(":")[2].split("/")[0])
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        answer = httpx.get(
            tls_emulator.url,
            params=query("accountstatus"),
            verify=trusting(tls_emulator.ca_pem),
            timeout=5,
        )
        assert answer.status_code == 200
    finally:
        for connection in silent:
            connection.close()


def test_plain_http_to_the_tls_port_is_no_answer_and_no_crash(tls_emulator: Emulator) -> None:
    plain = tls_emulator.url.replace("https://", "http://")
    with pytest.raises(httpx.HTTPError):
        httpx.get(plain, params=query("accountstatus"), timeout=5)
    answer = httpx.get(
        tls_emulator.url, params=query("accountstatus"), verify=trusting(tls_emulator.ca_pem)
    )
    assert answer.status_code == 200
    assert tls_emulator.stats.errors == []


def test_the_ca_is_only_there_with_tls() -> None:
    with Emulator() as emu:
        assert emu.url.startswith("http://")
        with pytest.raises(RuntimeError):
            emu.ca_pem  # noqa: B018


def test_listening_on_every_address_announces_loopback() -> None:
    """The certificate names loopback, not 0.0.0.0: so do the URL and the locations."""
    assert Emulator(host="0.0.0.0", port=8443, tls=True).url == (
        "https://127.0.0.1:8443/pm-api/v1.php"
    )
