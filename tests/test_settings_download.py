"""The [download] and [aria2] settings: loaded, checked, saved, and aria2's
secret never shown (repr, errors, the form) nor saved from the environment."""

from __future__ import annotations

import dataclasses
import shlex
import sys
import tomllib
from pathlib import Path

import platformdirs
import pytest
import tomli_w

from tui.settings import (
    Settings,
    SettingsError,
    download_dir,
    load_settings,
    resolve_aria2_secret,
    save_settings,
    setting_fields,
)

FILE = """\
[download]
dir = "~/films"
auto = true
engine = "aria2"
concurrent_files = 3
max_connections_per_file = 4
rate_limit = 5000000
min_free_space = 0

[aria2]
rpc_url = "http://127.0.0.1:6811/jsonrpc"
secret = "aria2-s3cret"
"""


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return load_settings(path, env=env or {}).settings


def test_the_keys_load(tmp_path: Path) -> None:
    settings = load(tmp_path, FILE)
    download, aria2 = settings.download, settings.aria2
    assert (download.dir, download.auto, download.engine) == ("~/films", True, "aria2")
    assert (download.concurrent_files, download.max_connections_per_file) == (3, 4)
    assert (download.rate_limit, download.min_free_space) == (5_000_000, 0)
    assert aria2.rpc_url == "http://127.0.0.1:6811/jsonrpc"
    assert resolve_aria2_secret(aria2).reveal() == "aria2-s3cret"


def test_the_defaults() -> None:
    settings = Settings()
    assert settings.download.engine == "builtin" and not settings.download.auto
    assert settings.aria2.rpc_url == "http://127.0.0.1:6800/jsonrpc"
    assert download_dir(settings.download.dir) == platformdirs.user_downloads_path()
    assert download_dir("~/films") == Path("~/films").expanduser()
    assert not resolve_aria2_secret(settings.aria2)  # an aria2 without --rpc-secret


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('[download]\nengine = "curl"', 'download.engine must be one of "builtin", "aria2"'),
        ("[download]\nconcurrent_files = 0", "download.concurrent_files must be from 1 to 16"),
        ("[download]\nmax_connections_per_file = 17", "must be from 1 to 16"),
        ("[download]\nrate_limit = -1", "download.rate_limit must be at least 0"),
        ("[download]\nmin_free_space = -5", "download.min_free_space must be at least 0"),
        ('[download]\ndir = "films"', "download.dir must be a full path"),
        ("[download]\nauto = 1", "download.auto must be true or false"),
        ('[aria2]\nrpc_url = "ftp://127.0.0.1/x"', "aria2.rpc_url must start with https://"),
        ('[aria2]\nrpc_url = "http://seedbox.example:6800/jsonrpc"', "plain http:// to another"),
        ('[aria2]\nrpc_url = "https://u:p@seedbox.example/jsonrpc"', "must not contain a user"),
        ('[aria2]\nrpc_url = ""', "aria2.rpc_url must be set"),
        ("[aria2]\nsecret = 42", "aria2.secret must be text in quotes, not a whole number"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, line: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says) as refused:
        load(tmp_path, line + "\n")
    assert refused.value.line == 2


def test_https_and_loopback_urls_are_allowed(tmp_path: Path) -> None:
    for url in ("https://seedbox.example/jsonrpc", "http://[::1]:6800/jsonrpc"):
        assert load(tmp_path, f'[aria2]\nrpc_url = "{url}"\n').aria2.rpc_url == url


def test_the_secret_never_shows_in_a_repr_or_an_error(tmp_path: Path) -> None:
    settings = load(tmp_path, FILE)
    assert "aria2-s3cret" not in repr(settings)
    assert "aria2-s3cret" not in repr(settings.aria2)
    assert "aria2-s3cret" not in repr(resolve_aria2_secret(settings.aria2))
    secret_field = next(f for f in setting_fields() if f.key == "aria2.secret")
    assert secret_field.secret  # so the form shows a password box
    with pytest.raises(SettingsError) as refused:
        load(tmp_path, '[aria2]\nsecret = "aria2-s3cret"\nsecrt = "aria2-s3cret"\n')
    assert "aria2-s3cret" not in str(refused.value)


def test_they_are_saved_and_read_back(tmp_path: Path) -> None:
    settings = load(tmp_path, FILE)
    changed = dataclasses.replace(
        settings, download=dataclasses.replace(settings.download, rate_limit=0, engine="builtin")
    )
    path = tmp_path / "config.toml"
    save_settings(changed, path)
    saved = tomllib.loads(path.read_text())
    assert saved["download"]["rate_limit"] == 0 and saved["download"]["engine"] == "builtin"
    assert saved["aria2"]["secret"] == "aria2-s3cret"  # the file is where it lives
    assert load_settings(path, env={}).settings == changed


def test_the_environments_secret_is_used_but_never_saved(tmp_path: Path) -> None:
    settings = load(tmp_path, FILE, env={"LINKDECK_ARIA2_SECRET": "from-the-env"})
    assert resolve_aria2_secret(settings.aria2).reveal() == "from-the-env"
    path = tmp_path / "config.toml"
    save_settings(settings, path)
    assert "from-the-env" not in path.read_text()
    assert tomllib.loads(path.read_text())["aria2"]["secret"] == "aria2-s3cret"


def test_a_secret_command_prints_the_secret(tmp_path: Path) -> None:
    script = "print('from-a-command'); print('second line')"
    command = shlex.join([sys.executable, "-c", script])
    settings = load(tmp_path, "[aria2]\n" + tomli_w.dumps({"secret_command": command}))
    assert resolve_aria2_secret(settings.aria2).reveal() == "from-a-command"


def test_a_failing_secret_command_is_named_without_its_output(tmp_path: Path) -> None:
    script = "print('leaked-secret'); raise SystemExit(3)"
    command = shlex.join([sys.executable, "-c", script])
    aria2 = dataclasses.replace(Settings().aria2, secret_command=command)
    with pytest.raises(SettingsError, match=r"secret_command failed \(exit 3\)") as failed:
        resolve_aria2_secret(aria2)
    assert failed.value.key == "aria2.secret_command"
    assert "leaked-secret" not in str(failed.value)
