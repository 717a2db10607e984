"""Scenario files, the built-in scenario, and the emulator's import isolation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import tui.emulator
from tui.emulator import Emulator, Faults, ScenarioError, default_scenario, load_scenario

CUSTOM = """
unavailable_hoster = "down.example"

[connection_settings]
max_connections_per_file = 2
max_connections_per_hoster = 5
resume = false

[faults]
latency_ms = 5
error_rate = 0.0

[[accounts]]
login = "987654321"
pin = "4321"
type = "trial"
expires_in_days = 1.5
fairuse_left = 0.5

[[hosters]]
name = "files.example"
tlds = ["files.example", "f.example"]
regexes = ['https?://(?:www\\.)?f(?:iles)?\\.example/.+']
cost_factor = 10
connection_settings = { max_connections_per_file = 1, max_connections_per_hoster = 1 }

[[hosters]]
name = "down.example"
tlds = ["down.example"]
regexes = ['https?://down\\.example/.+']
"""


def test_default_scenario_content() -> None:
    scenario = default_scenario()
    names = [h.name for h in scenario.hosters]
    assert len(names) >= 60
    for name in (
        "1fichier.com",
        "uploaded.net",
        "rapidgator.net",
        "turbobit.net",
        "depositfiles.com",
        "keep2share.cc",
        "filer.net",
        "uptobox.com",
        "mediafire.com",
        "nitroflare.com",
        "oboom.com",
        "share-online.biz",
        "openload.co",
        "mega.nz",
    ):
        assert name in names
    broken = []
    for hoster in scenario.hosters:
        assert 1 <= hoster.cost_factor <= 10
        for regex in hoster.regexes:
            try:
                re.compile(regex)
            except re.error:
                broken.append(regex)
    assert broken == [r"https?://(www\.)?rapidgator\.host/.*)"]
    assert scenario.unavailable_hoster == "share-online.biz"
    assert [a.login for a in scenario.accounts] == [str(d) * 9 for d in range(1, 6)]
    assert scenario.faults == Faults()


def test_load_scenario_and_serve_it(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text(CUSTOM)
    scenario = load_scenario(path)
    assert scenario.faults.latency_ms == 5
    account = {"params[login]": "987654321", "params[pass]": "4321"}
    with Emulator(scenario, clock=lambda: 1000.0) as emu, httpx.Client(timeout=5) as client:
        status = client.get(emu.url, params={"method": "accountstatus", **account}).json()
        assert status["result"]["type"] == "trial"
        assert status["result"]["expires"] == 1000 + 36 * 3600
        assert status["result"]["extuid"]
        hosters = client.get(emu.url, params={"method": "hosterlist", **account}).json()
        assert hosters["result"]["hosterlist"] == ["files.example", "down.example"]
        assert hosters["result"]["connection_settings"] == {
            "all": {
                "max_connections_per_file": 2,
                "max_connections_per_hoster": 5,
                "resume": False,
            },
            "files.example": {
                "max_connections_per_file": 1,
                "max_connections_per_hoster": 1,
                "resume": True,
            },
        }
        unlock = {"method": "directdownloadlink", **account}
        down = client.get(emu.url, params={**unlock, "params[link]": "http://down.example/x"})
        assert down.status_code == 428
        ok = client.get(emu.url, params={**unlock, "params[link]": "https://f.example/a.zip"})
        size = ok.json()["result"]["filesize"]
        assert emu.account("987654321").fairuse_left == pytest.approx(
            0.5 - 10 * size / 2**30 / 1000
        )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[accounts]\nlogin = 1", "not valid TOML"),
        ("[faults]\nlatency_ms = " + "9" * 5000, "not valid TOML: a number has too many digits"),
        ("colour = 1", "unknown key(s) colour"),
        ("[faults]\nlatency = 5", "faults has unknown key(s) latency"),
        ("[faults]\nmalformed_json = 1", "faults.malformed_json must be true or false"),
        ("[faults]\nerror_rate = 2", "faults.error_rate must be a number from 0.0 to 1.0"),
        ("[[accounts]]\nlogin = '1'", "accounts[0] needs a pin"),
        ("[[accounts]]\nlogin = '1'\npin = 2", "accounts[0].pin must be a non-empty string"),
        ("[[accounts]]\nlogin = '1'\npin = '2'\ntype = 'gold'", "accounts[0].type must be one"),
        (
            "[[accounts]]\nlogin = '1'\npin = '2'\nfairuse_left = 1.5",
            "accounts[0].fairuse_left must be a number from 0.0 to 1.0",
        ),
        (
            "[[accounts]]\nlogin = '1'\npin = '2'\n[[accounts]]\nlogin = '1'\npin = '3'",
            "accounts repeat the login '1'",
        ),
        (
            "[[hosters]]\nname = 'a'\ntlds = ['a']\nregexes = ['a']\ncost_factor = 11",
            "hosters[0].cost_factor must be an integer from 1 to 10, got 11",
        ),
        ("[[hosters]]\nname = 'a'\ntlds = 'a'\nregexes = []", "hosters[0].tlds must be a list"),
        ("unavailable_hoster = 'nope.example'", "names 'nope.example', which is no hoster"),
        ("hosters = 3", "hosters must be an array of tables"),
    ],
)
def test_bad_scenario_files_say_what_is_wrong(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert fragment in str(caught.value)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[faults]\nlatency_ms = 5\nhang_seconds = = 2\n")
    with pytest.raises(ScenarioError, match="line 3"):
        load_scenario(path)


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="Cannot read scenario file"):
        load_scenario(tmp_path / "absent.toml")


def test_emulator_imports_neither_textual_nor_httpx() -> None:
    code = (
        "import sys, tui.emulator as e\n"
        "with e.Emulator() as emu: pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'httpx')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert done.stdout.strip() == "[]"
    package = Path(tui.emulator.__file__).parent
    for source in package.glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+(textual|httpx)\b", source.read_text(), re.M)
