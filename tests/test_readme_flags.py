"""The README says which flags each command takes: each command's --help agrees."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from commandline import isolated_env

README = Path(__file__).resolve().parent.parent / "README.md"
COMMON = ("--demo", "--config", "--api-url", "--login", "--debug")
"""What the README says the dashboard and every command but `emulator` take."""


def usage_block() -> dict[str, set[str]]:
    """The flags of each line of the README's "Using it" block, by command."""
    text = README.read_text("utf-8")
    block = text.split("## Using it", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    flags: dict[str, set[str]] = {}
    for line in block.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] != ["linkdeck"]:
            continue
        command = words[1] if len(words) > 1 and not words[1].startswith(("-", "[")) else ""
        flags.setdefault(command, set()).update(re.findall(r"--[a-z][a-z-]*", " ".join(words)))
    return flags


def help_of(tmp_path: Path, command: str) -> str:
    args = [command, "--help"] if command else ["--help"]
    result = subprocess.run(
        [sys.executable, "-m", "tui", *args],
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_readme_states_the_common_flags() -> None:
    text = " ".join(README.read_text("utf-8").split())
    assert "The dashboard and every command but `emulator` take `--demo`, `--config PATH`," in text


@pytest.mark.parametrize("command", ["", "status", "hosters", "unlock", "download", "emulator"])
def test_each_command_takes_the_flags_the_readme_gives_it(tmp_path: Path, command: str) -> None:
    shown = usage_block()
    assert command in shown
    text = help_of(tmp_path, command)
    offered = set(re.findall(r"--[a-z][a-z-]*", text)) - {"--help"}
    expected = shown[command] | (set() if command == "emulator" else set(COMMON))
    assert expected <= offered, expected - offered
    # Nothing it takes goes unsaid (but --version, of the program itself).
    assert offered - {"--version"} <= expected, offered - expected
