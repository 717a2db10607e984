"""Tests for tui.settings: model, load/validate, save, paths, password command.

Only temporary paths and explicit env dicts are used: the real ~/.config is
never touched.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shlex
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import ClassVar

import platformdirs
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tui.api.errors import InsecureTransport
from tui.api.transport import check_transport
from tui.settings import (
    ApiSettings,
    LoadResult,
    RefreshSettings,
    Settings,
    SettingsError,
    UiSettings,
    UnlockSettings,
    WarningSettings,
    cache_dir,
    coerce,
    config_path,
    data_dir,
    find_line,
    load_settings,
    resolve_password,
    save_settings,
    setting_fields,
    settings_from_dict,
    settings_to_dict,
    validate,
)

PIN = "8472-SECRET-PIN"
NO_ENV: dict[str, str] = {}

GOOD = """\
[api]
url = "https://api.example.test/pm-api/v1.php"
login = "123456789"
password = "8472-SECRET-PIN"

[unlock]
concurrency = 4
retry_delay = 60

[ui]
mouse = false

[keymap]
unlock = "ctrl+u"
"""


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "conf" / "config.toml"


def custom_settings() -> Settings:
    return Settings(
        api=ApiSettings(
            url="https://api.example.test/pm-api/v1.php",
            login="123456789",
            password=PIN,
            password_command="pass show linkdeck",
            allow_insecure_http=True,
            timeout=7.5,
            proxy_plain_http=True,
        ),
        refresh=RefreshSettings(account_interval=30, hosters_interval=7200.0, max_backoff=900.0),
        unlock=UnlockSettings(concurrency=16, max_attempts=2, history_days=0, reuse_window=0.0),
        warnings=WarningSettings(fairuse_below=0.0, expiry_days_below=0),
        ui=UiSettings(theme="nord", mouse=False),
        keymap={"unlock": "u", "quit": "ctrl+q", "odd id.with dots": "f5"},
    )


# -- model ----------------------------------------------------------------------


class TestModel:
    def test_defaults(self) -> None:
        s = Settings()
        assert s.api.url == "" and s.api.timeout == 20.0
        assert s.unlock.concurrency == 2 and s.unlock.history_days == 90
        assert dict(s.keymap) == {}
        assert not s.is_usable()

    def test_is_usable(self) -> None:
        api = ApiSettings(url="https://x.test/v1.php", login="123456789")
        assert not Settings(api=api).is_usable()
        assert Settings(api=dataclasses.replace(api, password="1")).is_usable()
        assert Settings(api=dataclasses.replace(api, password_command="pass x")).is_usable()
        assert not Settings(api=ApiSettings(login="123456789", password="1")).is_usable()

    def test_repr_never_shows_password(self, cfg: Path) -> None:
        s = custom_settings()
        assert PIN not in repr(s) and PIN not in repr(s.api) and PIN not in str(s)
        write_dir(cfg)
        write(cfg, GOOD)
        res = load_settings(cfg, env={"LINKDECK_PASSWORD": "ENV-" + PIN})
        assert PIN not in repr(res) and "ENV-" + PIN not in repr(res)
        assert "ENV-" not in repr(dict(res.settings.overrides))

    def test_frozen_and_keymap_immutable(self) -> None:
        source = {"unlock": "u"}
        s = Settings(keymap=source)
        source["unlock"] = "x"
        assert s.keymap["unlock"] == "u"
        with pytest.raises(TypeError):
            s.keymap["unlock"] = "y"  # type: ignore[index]
        with pytest.raises(dataclasses.FrozenInstanceError):
            s.api = ApiSettings()  # type: ignore[misc]
        assert hash(s) == hash(Settings(keymap={"unlock": "u"}))

    def test_every_field_has_help(self) -> None:
        fields = setting_fields()
        assert len(fields) == 8 + 3 + 7 + 2 + 2 + 2 + 7 + 3
        assert all(f.help and len(f.help) < 100 for f in fields)
        assert [f.key for f in fields if f.secret] == ["api.password", "aria2.secret"]

    def test_get(self) -> None:
        s = custom_settings()
        assert s.get("unlock.concurrency") == 16
        assert s.get("keymap.unlock") == "u"

    def test_no_textual_import(self) -> None:
        code = "import sys, tui.settings; assert 'textual' not in sys.modules"
        subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def write_dir(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)


# -- load -----------------------------------------------------------------------


class TestLoad:
    def test_missing_file_gives_defaults(self, cfg: Path) -> None:
        res = load_settings(cfg, env=NO_ENV)
        assert isinstance(res, LoadResult)
        assert res.settings == Settings() and not res.exists and res.path == cfg
        assert res.warnings == ()

    def test_reads_file(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, GOOD)
        res = load_settings(cfg, env=NO_ENV)
        s = res.settings
        assert res.exists and res.warnings == ()
        assert s.api.password == PIN and s.api.login == "123456789"
        assert s.unlock.concurrency == 4
        assert s.unlock.retry_delay == 60.0 and isinstance(s.unlock.retry_delay, float)
        assert s.unlock.max_attempts == 5  # default
        assert s.ui.mouse is False and s.keymap == {"unlock": "ctrl+u"}
        assert s.is_usable()

    def test_syntax_error_reports_line_and_leaves_file(self, cfg: Path) -> None:
        write_dir(cfg)
        text = '[api]\nurl = "https://x.test/v1.php"\nlogin = 123456789 oops\n'
        write(cfg, text)
        with pytest.raises(SettingsError) as ei:
            load_settings(cfg, env=NO_ENV)
        e = ei.value
        assert e.line == 3 and e.path == cfg
        assert str(cfg) in str(e) and "line 3" in str(e) and "TOML" in str(e)
        assert cfg.read_text() == text

    def test_save_refuses_to_overwrite_unparsable_file(self, cfg: Path) -> None:
        write_dir(cfg)
        text = "[api\nurl = 1\n"
        write(cfg, text)
        with pytest.raises(SettingsError, match="refusing to overwrite"):
            save_settings(custom_settings(), cfg)
        assert cfg.read_text() == text
        assert os.listdir(cfg.parent) == ["config.toml"]

    @pytest.mark.parametrize(
        ("table", "line", "key", "fragment"),
        [
            ('[unlock]\nconcurrency = "4"\n', 2, "unlock.concurrency", "whole number"),
            ("[unlock]\nconcurrency = 2.5\n", 2, "unlock.concurrency", "whole number"),
            ("[unlock]\n\nconcurrency = true\n", 3, "unlock.concurrency", "whole number"),
            ("[ui]\nmouse = 1\n", 2, "ui.mouse", "true or false"),
            ('[api]\ntimeout = "20"\n', 2, "api.timeout", "number"),
            ("[api]\ntimeout = true\n", 2, "api.timeout", "number"),
            ("[api]\ntimeout = nan\n", 2, "api.timeout", "finite"),
            (f"[api]\ntimeout = 1{'0' * 400}\n", 2, "api.timeout", "finite"),
            ("[refresh]\naccount_interval = 0\n", 2, "refresh.account_interval", "greater"),
            ("[unlock]\nconcurrency = 17\n", 2, "unlock.concurrency", "from 1 to 16"),
            ("[unlock]\nconcurrency = 0\n", 2, "unlock.concurrency", "from 1 to 16"),
            ("[unlock]\nhistory_days = -1\n", 2, "unlock.history_days", "at least 0"),
            ("[warnings]\nfairuse_below = 1.5\n", 2, "warnings.fairuse_below", "from 0 to 1"),
            ('[api]\nurl = "ftp://x.test/"\n', 2, "api.url", "https://"),
            ('[api]\nurl = "x.test/v1.php"\n', 2, "api.url", "https://"),
            ('[api]\nlogin = "jo\\u001bhn"\n', 2, "api.login", "control"),
            ("[api]\nlogin = 123456789\n", 2, "api.login", "text"),
            ("[keymap]\nunlock = 5\n", 2, "keymap.unlock", "keymap.unlock"),
            ("api = 3\n", 1, "api", "must be a table"),
        ],
    )
    def test_bad_value_reports_key_and_line(
        self, cfg: Path, table: str, line: int, key: str, fragment: str
    ) -> None:
        write_dir(cfg)
        write(cfg, "# linkdeck\n" + table)
        with pytest.raises(SettingsError) as ei:
            load_settings(cfg, env=NO_ENV)
        e = ei.value
        assert e.key == key and e.line == line + 1 and e.path == cfg
        assert fragment in str(e) and str(cfg) in str(e) and f"(line {line + 1})" in str(e)

    def test_int_accepted_for_float(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, "[refresh]\naccount_interval = 5\n[warnings]\nfairuse_below = 1\n")
        s = load_settings(cfg, env=NO_ENV).settings
        assert s.refresh.account_interval == 5.0 and type(s.refresh.account_interval) is float
        assert s.warnings.fairuse_below == 1.0

    def test_wrong_type_of_password_does_not_leak(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, "[api]\npassword = 84729911\n")
        with pytest.raises(SettingsError) as ei:
            load_settings(cfg, env=NO_ENV)
        assert ei.value.key == "api.password" and "84729911" not in str(ei.value)

    def test_unknown_key_suggestion(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, '[api]\nurl = ""\n\n# comment\n\n[unlock]\nconcurency = 3\n')
        with pytest.raises(SettingsError) as ei:
            load_settings(cfg, env=NO_ENV)
        e = ei.value
        assert e.key == "unlock.concurency" and e.line == 7
        assert str(e) == (
            f'{cfg}: unknown key "concurency" in [unlock] (line 7); did you mean "concurrency"?'
        )
        assert e.detail == 'unknown key "concurency" in [unlock]; did you mean "concurrency"?'

    def test_unknown_table_and_misplaced_key(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, 'url = "https://x.test/v1.php"\n[unlok]\nconcurrency = 3\n')
        with pytest.raises(SettingsError) as ei:
            load_settings(cfg, env=NO_ENV)
        probs = ei.value.problems
        assert [(p.key, p.line) for p in probs] == [("url", 1), ("unlok", 2)]
        assert "it belongs in [api]" in str(probs[0])
        assert "did you mean [unlock]?" in str(probs[1])

    def test_all_problems_sorted_by_line(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, "[ui]\nmouse = 3\n[unlock]\nconcurrency = 99\nmax_attempts = 0\n")
        with pytest.raises(SettingsError) as ei:
            load_settings(cfg, env=NO_ENV)
        assert ei.value.line == 2
        assert [p.key for p in ei.value.problems] == [
            "ui.mouse",
            "unlock.concurrency",
            "unlock.max_attempts",
        ]

    def test_insecure_http(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, '[api]\nurl = "http://api.example.test/v1.php"\n')
        with pytest.raises(SettingsError) as ei:
            load_settings(cfg, env=NO_ENV)
        assert ei.value.key == "api.url" and ei.value.line == 2
        assert "allow_insecure_http" in str(ei.value)
        write(cfg, '[api]\nurl = "http://api.example.test/v1.php"\nallow_insecure_http = true\n')
        assert load_settings(cfg, env=NO_ENV).settings.api.allow_insecure_http
        for url in ("http://127.0.0.1:8080/v1.php", "http://localhost/v1.php", "http://[::1]/x"):
            write(cfg, f'[api]\nurl = "{url}"\n')
            assert load_settings(cfg, env=NO_ENV).settings.api.url == url

    def test_is_a_directory(self, tmp_path: Path) -> None:
        with pytest.raises(SettingsError, match="is a directory") as ei:
            load_settings(tmp_path, env=NO_ENV)
        assert ei.value.path == tmp_path

    def test_unreadable_file(self, cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        write_dir(cfg)
        write(cfg, GOOD)
        real_open = open

        def deny(file, *a, **kw):  # type: ignore[no-untyped-def]
            if Path(file) == cfg:
                raise PermissionError(errno.EACCES, "Permission denied", str(file))
            return real_open(file, *a, **kw)

        monkeypatch.setattr("builtins.open", deny)
        with pytest.raises(SettingsError) as ei:
            load_settings(cfg, env=NO_ENV)
        assert "permission denied" in str(ei.value) and str(cfg) in str(ei.value)

    @pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root reads anything")
    def test_unreadable_file_for_real(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, GOOD, mode=0o000)
        with pytest.raises(SettingsError, match="permission denied"):
            load_settings(cfg, env=NO_ENV)

    def test_not_utf8(self, cfg: Path) -> None:
        write_dir(cfg)
        cfg.write_bytes(b'[ui]\ntheme = "\xff"\n')
        with pytest.raises(SettingsError, match="UTF-8") as ei:
            load_settings(cfg, env=NO_ENV)
        assert ei.value.line == 2

    def test_permission_warning(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, GOOD, mode=0o644)
        res = load_settings(cfg, env=NO_ENV)
        assert res.warnings == (
            f"config file {cfg} is readable by others (mode 0644); it holds your PIN: "
            f"run chmod 600 {cfg}",
        )
        cfg.chmod(0o620)
        (w,) = load_settings(cfg, env=NO_ENV).warnings
        assert "writable by others (mode 0620)" in w
        cfg.chmod(0o600)
        assert load_settings(cfg, env=NO_ENV).warnings == ()

    @pytest.mark.parametrize(
        ("owner", "warned"), [(os.getuid(), False), (0, False), (os.getuid() + 4242, True)]
    )
    def test_owner_warning(
        self, cfg: Path, monkeypatch: pytest.MonkeyPatch, owner: int, warned: bool
    ) -> None:
        """As ssh does: a file of another user (root aside) could be changed
        behind your back. The owner is faked for the file read only."""
        write_dir(cfg)
        write(cfg, GOOD)
        real_fstat = os.fstat

        def fstat(fd: int) -> os.stat_result:
            result = real_fstat(fd)
            if os.path.samestat(result, os.stat(cfg)):
                fields = list(result)
                fields[stat.ST_UID] = owner
                return os.stat_result(fields)
            return result

        monkeypatch.setattr(os, "fstat", fstat)
        warnings = load_settings(cfg, env=NO_ENV).warnings
        expected = (
            f"config file {cfg} is owned by another user (uid {owner}), "
            "who could change where your PIN is sent: use a file of your own"
        )
        assert warnings == ((expected,) if warned else ())

    def test_both_password_and_command_warns(self, cfg: Path) -> None:
        write_dir(cfg)
        write(
            cfg, GOOD.replace(f'password = "{PIN}"', f'password = "{PIN}"\npassword_command = "x"')
        )
        (w,) = load_settings(cfg, env=NO_ENV).warnings
        assert "both set" in w and PIN not in w


# -- overrides ------------------------------------------------------------------


class TestOverrides:
    ENV: ClassVar[dict[str, str]] = {
        "LINKDECK_API_URL": "https://env.example.test/v1.php",
        "LINKDECK_LOGIN": "987654321",
        "LINKDECK_PASSWORD": "ENV-PIN",
    }

    def test_env_over_file(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, GOOD)
        res = load_settings(cfg, env=self.ENV)
        api = res.settings.api
        assert (api.url, api.login, api.password) == (
            "https://env.example.test/v1.php",
            "987654321",
            "ENV-PIN",
        )
        assert res.settings.overrides["api.password"].source == "LINKDECK_PASSWORD"
        assert res.settings.unlock.concurrency == 4  # file still applies

    def test_env_without_file(self, cfg: Path) -> None:
        res = load_settings(cfg, env=self.ENV)
        assert not res.exists and res.settings.is_usable()

    def test_empty_env_ignored(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, GOOD)
        res = load_settings(cfg, env={"LINKDECK_PASSWORD": "", "LINKDECK_LOGIN": ""})
        assert res.settings.api.password == PIN and res.settings.api.login == "123456789"

    def test_bad_env_value_names_variable(self, cfg: Path) -> None:
        with pytest.raises(SettingsError) as ei:
            load_settings(cfg, env={"LINKDECK_API_URL": "ftp://x"})
        assert ei.value.key == "api.url" and "LINKDECK_API_URL" in str(ei.value)
        assert ei.value.line is None

    def test_env_http_url_checked_after_override(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, GOOD)
        with pytest.raises(SettingsError, match="LINKDECK_API_URL"):
            load_settings(cfg, env={"LINKDECK_API_URL": "http://remote.test/v1.php"})
        # a file http URL replaced by an https one from the environment is fine
        write(cfg, '[api]\nurl = "http://remote.test/v1.php"\n')
        res = load_settings(cfg, env={"LINKDECK_API_URL": "https://remote.test/v1.php"})
        assert res.settings.api.url.startswith("https://")

    def test_cli_over_env(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, GOOD)
        res = load_settings(
            cfg,
            env=self.ENV,
            overrides={
                "api.url": "https://cli.example.test/v1.php",
                "api.login": None,  # flag not given
                "ui.mouse": True,
                "unlock.concurrency": "8",  # text from --set is parsed
                "keymap.quit": "q",
            },
        )
        s = res.settings
        assert s.api.url == "https://cli.example.test/v1.php"
        assert s.api.login == "987654321"
        assert s.ui.mouse is True and s.unlock.concurrency == 8
        assert s.keymap == {"unlock": "ctrl+u", "quit": "q"}
        assert s.overrides["api.url"].source == "command line"
        assert s.overrides["api.url"].file_value == "https://api.example.test/pm-api/v1.php"

    def test_bad_cli_override(self, cfg: Path) -> None:
        with pytest.raises(SettingsError, match=r'did you mean "unlock\.concurrency"'):
            load_settings(cfg, env=NO_ENV, overrides={"unlock.concurency": 3})
        with pytest.raises(SettingsError, match="from 1 to 16") as ei:
            load_settings(cfg, env=NO_ENV, overrides={"unlock.concurrency": "99"})
        assert ei.value.key == "unlock.concurrency" and "command line" in str(ei.value)
        with pytest.raises(SettingsError, match="true or false"):
            load_settings(cfg, env=NO_ENV, overrides={"ui.mouse": "maybe"})

    def test_save_does_not_persist_env_password(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, GOOD.replace(f'password = "{PIN}"\n', ""))
        res = load_settings(cfg, env=self.ENV, overrides={"ui.theme": "nord"})
        edited = dataclasses.replace(
            res.settings, unlock=dataclasses.replace(res.settings.unlock, concurrency=9)
        )
        save_settings(edited, cfg)
        text = cfg.read_text()
        assert "ENV-PIN" not in text and "env.example.test" not in text and "nord" not in text
        again = load_settings(cfg, env=NO_ENV).settings
        assert again.unlock.concurrency == 9 and again.api.password == ""
        assert again.api.url == "https://api.example.test/pm-api/v1.php"

    def test_save_persists_a_changed_override(self, cfg: Path) -> None:
        res = load_settings(cfg, env=self.ENV)
        api = dataclasses.replace(res.settings.api, password="TYPED-PIN")
        d = settings_to_dict(dataclasses.replace(res.settings, api=api))
        save_settings(settings_from_dict(d, base=res.settings), cfg)
        again = load_settings(cfg, env=NO_ENV).settings.api
        assert again.password == "TYPED-PIN" and again.url == ""


# -- save -----------------------------------------------------------------------


class TestSave:
    def test_round_trip(self, cfg: Path) -> None:
        s = custom_settings()
        save_settings(s, cfg)
        res = load_settings(cfg, env=NO_ENV)
        assert res.settings == s and res.exists
        assert res.warnings == (
            "api.password and api.password_command are both set; the password is used",
        )

    def test_modes(self, tmp_path: Path) -> None:
        path = tmp_path / "a" / "linkdeck" / "config.toml"
        old = os.umask(0o022)
        try:
            save_settings(Settings(), path)
        finally:
            os.umask(old)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

    def test_overwrite_resets_mode(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, GOOD, mode=0o644)
        save_settings(custom_settings(), cfg)
        assert stat.S_IMODE(cfg.stat().st_mode) == 0o600

    def test_file_is_commented_and_complete(self, cfg: Path) -> None:
        save_settings(Settings(), cfg)
        text = cfg.read_text()
        for f in setting_fields():
            assert f"# {f.help}\n{f.name} = " in text
        assert "[keymap]" in text

    @pytest.mark.parametrize("fail", ["replace", "write", "fsync"])
    def test_failure_leaves_original(
        self, cfg: Path, monkeypatch: pytest.MonkeyPatch, fail: str
    ) -> None:
        write_dir(cfg)
        write(cfg, GOOD)

        def boom(*a: object, **kw: object) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, fail, boom)
        with pytest.raises(SettingsError) as ei:
            save_settings(custom_settings(), cfg)
        monkeypatch.undo()
        assert "disk is full" in str(ei.value) and str(cfg) in str(ei.value)
        assert cfg.read_text() == GOOD
        assert os.listdir(cfg.parent) == ["config.toml"]

    def test_read_only_directory_simulated(
        self, cfg: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write_dir(cfg)
        write(cfg, GOOD)
        real_open = os.open

        def deny(p: object, flags: int, *a: object) -> int:
            if flags & os.O_CREAT:
                raise PermissionError(errno.EACCES, "Permission denied")
            return real_open(p, flags, *a)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", deny)
        with pytest.raises(SettingsError, match="permission denied"):
            save_settings(custom_settings(), cfg)
        monkeypatch.undo()
        assert cfg.read_text() == GOOD
        assert os.listdir(cfg.parent) == ["config.toml"]

    @pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root writes anywhere")
    def test_read_only_directory_for_real(self, cfg: Path) -> None:
        write_dir(cfg)
        write(cfg, GOOD)
        cfg.parent.chmod(0o500)
        try:
            with pytest.raises(SettingsError, match="permission denied"):
                save_settings(custom_settings(), cfg)
        finally:
            cfg.parent.chmod(0o700)
        assert cfg.read_text() == GOOD and os.listdir(cfg.parent) == ["config.toml"]

    def test_parent_is_a_file(self, tmp_path: Path) -> None:
        (tmp_path / "f").write_text("x")
        with pytest.raises(SettingsError, match=r"not a directory|file exists"):
            save_settings(Settings(), tmp_path / "f" / "config.toml")

    def test_refuses_invalid_settings(self, cfg: Path) -> None:
        bad = Settings(unlock=UnlockSettings(concurrency=99))
        with pytest.raises(SettingsError) as ei:
            save_settings(bad, cfg)
        assert ei.value.key == "unlock.concurrency" and not cfg.exists()

    def test_keeps_symlink(self, tmp_path: Path) -> None:
        real = tmp_path / "dotfiles" / "linkdeck.toml"
        write_dir(real)
        write(real, GOOD)
        link = tmp_path / "config.toml"
        link.symlink_to(real)
        save_settings(custom_settings(), link)
        assert link.is_symlink()
        assert load_settings(real, env=NO_ENV).settings == custom_settings()


# -- dict helpers, validate, coerce ---------------------------------------------


class TestHelpers:
    def test_dict_round_trip(self) -> None:
        s = custom_settings()
        d = settings_to_dict(s)
        assert d["unlock"]["concurrency"] == 16 and d["keymap"]["unlock"] == "u"
        assert settings_from_dict(d) == s
        assert settings_from_dict({}) == Settings()

    def test_settings_from_dict_raises_all(self) -> None:
        with pytest.raises(SettingsError) as ei:
            settings_from_dict({"unlock": {"concurrency": 0, "retry_delay": -1}})
        assert {p.key for p in ei.value.problems} == {"unlock.concurrency", "unlock.retry_delay"}

    def test_validate_lists_every_problem(self) -> None:
        text = "[unlock]\nconcurrency = 0\nretry_delay = -1\n[ui]\nmouse = 2\n"
        import tomllib

        probs = validate(tomllib.loads(text), text=text)
        assert [(p.key, p.line) for p in probs] == [
            ("unlock.concurrency", 2),
            ("unlock.retry_delay", 3),
            ("ui.mouse", 5),
        ]
        assert all(isinstance(p, SettingsError) and p.detail for p in probs)
        assert validate(settings_to_dict(custom_settings())) == []

    def test_find_line_forms(self) -> None:
        text = '[ "unlock" ]  # q\n"concurrency" = 3\n[ui]\nunlock.x = 1\napi = {timeout = 3}\n'
        assert find_line(text, "unlock") == 1
        assert find_line(text, "unlock.concurrency") == 2
        assert find_line(text, "api.timeout") == 5
        assert find_line(text, "ui.theme") is None

    def test_coerce_text(self) -> None:
        def typed(key: str, text: str) -> object:
            return coerce(key, text, from_text=True)

        assert typed("unlock.concurrency", " 4 ") == 4
        assert typed("api.timeout", "2.5") == 2.5
        assert typed("ui.mouse", "off") is False
        assert typed("ui.theme", "nord") == "nord"
        assert typed("keymap.unlock", "u") == "u"
        with pytest.raises(SettingsError, match="from 1 to 16"):
            typed("unlock.concurrency", "20")
        with pytest.raises(SettingsError, match="whole number"):
            typed("unlock.concurrency", "two")
        with pytest.raises(SettingsError, match="did you mean"):
            typed("ui.moose", "1")

    @pytest.mark.parametrize(
        ("key", "text", "toml_value"),
        [
            ("unlock.concurrency", "2.5", 2.5),
            ("unlock.concurrency", "two", "two"),
            ("api.timeout", "nan", float("nan")),
            ("ui.mouse", "maybe", "maybe"),
            ("warnings.fairuse_below", "1.5", 1.5),
        ],
    )
    def test_one_wording_for_text_and_toml(self, key: str, text: str, toml_value: object) -> None:
        """The form's text and the file's value of the same mistake read the same."""
        with pytest.raises(SettingsError) as from_form:
            coerce(key, text, from_text=True)
        with pytest.raises(SettingsError) as from_file:
            coerce(key, toml_value)
        assert from_form.value.detail == from_file.value.detail
        assert from_form.value.key == from_file.value.key == key

    @pytest.mark.parametrize(
        ("host", "loopback"),
        [
            ("127.0.0.1", True),
            ("::1", True),
            ("[::1]", True),
            ("localhost", True),
            ("LOCALHOST", True),  # a URL's host name is read in lower case
            ("box.localhost", False),
            ("127.1.2.3", True),
            ("example.com", False),
            ("0.0.0.0", False),
            ("localhost.", False),
        ],
    )
    def test_settings_and_transport_agree_on_plain_http(self, host: str, loopback: bool) -> None:
        """One loopback rule: plain http passes the settings check exactly where
        the API client would send the PIN over it."""
        netloc = f"[{host}]" if ":" in host and not host.startswith("[") else host
        url = f"http://{netloc}:8080/pm-api/v1.php"
        for allowed in (False, True):
            problems = validate({"api": {"url": url, "allow_insecure_http": allowed}})
            try:
                check_transport(url, allow_insecure_http=allowed)
                transport_sends = True
            except InsecureTransport:
                transport_sends = False
            assert (problems == []) is transport_sends is (loopback or allowed)


# -- paths ----------------------------------------------------------------------


class TestPaths:
    def test_config_path_precedence(self, tmp_path: Path) -> None:
        env = {"LINKDECK_CONFIG": str(tmp_path / "env.toml"), "XDG_CONFIG_HOME": str(tmp_path)}
        assert config_path(tmp_path / "cli.toml", env=env) == tmp_path / "cli.toml"
        assert config_path(str(tmp_path / "cli.toml"), env=env) == tmp_path / "cli.toml"
        assert config_path(None, env=env) == tmp_path / "env.toml"
        del env["LINKDECK_CONFIG"]
        assert config_path(env=env) == tmp_path / "linkdeck" / "config.toml"

    @pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG only")
    def test_xdg_dirs(self, tmp_path: Path) -> None:
        env = {
            "XDG_CONFIG_HOME": str(tmp_path / "c"),
            "XDG_DATA_HOME": str(tmp_path / "d"),
            "XDG_CACHE_HOME": str(tmp_path / "k"),
        }
        assert config_path(env=env) == tmp_path / "c" / "linkdeck" / "config.toml"
        assert data_dir(env=env) == tmp_path / "d" / "linkdeck"
        assert cache_dir(env=env) == tmp_path / "k" / "linkdeck"
        home = {"HOME": str(tmp_path), "XDG_DATA_HOME": "  "}
        assert config_path(env=home) == tmp_path / ".config" / "linkdeck" / "config.toml"
        assert data_dir(env=home) == tmp_path / ".local" / "share" / "linkdeck"
        assert cache_dir(env=home) == tmp_path / ".cache" / "linkdeck"

    def test_default_env_is_platformdirs(self) -> None:
        if "LINKDECK_CONFIG" not in os.environ:
            assert config_path() == platformdirs.user_config_path("linkdeck") / "config.toml"
        assert data_dir() == platformdirs.user_data_path("linkdeck")
        assert cache_dir() == platformdirs.user_cache_path("linkdeck")
        copy = {k: v for k, v in os.environ.items() if k != "LINKDECK_CONFIG"}
        assert data_dir(env=copy) == platformdirs.user_data_path("linkdeck")
        assert cache_dir(env=copy) == platformdirs.user_cache_path("linkdeck")


# -- password -------------------------------------------------------------------


def py_command(code: str) -> str:
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


class TestPassword:
    def test_password_wins(self) -> None:
        api = ApiSettings(password=PIN, password_command="/nonexistent/prog")
        assert resolve_password(api).reveal() == PIN

    def test_command_first_line_stripped(self) -> None:
        api = ApiSettings(password_command=py_command(f"print('  {PIN}  '); print('second')"))
        assert resolve_password(api).reveal() == PIN

    def test_command_failure_does_not_leak(self) -> None:
        code = f"import sys; print('{PIN}'); sys.stderr.write('{PIN}'); sys.exit(3)"
        api = ApiSettings(password_command=py_command(code))
        with pytest.raises(SettingsError) as ei:
            resolve_password(api)
        msg = str(ei.value)
        assert msg == "password_command failed (exit 3)"
        assert ei.value.key == "api.password_command"
        assert ei.value.__cause__ is None and ei.value.__context__ is None

    def test_timeout(self) -> None:
        api = ApiSettings(
            password_command=py_command(f"print('{PIN}', flush=True); import time; time.sleep(30)")
        )
        with pytest.raises(SettingsError, match="password_command timed out") as ei:
            resolve_password(api, timeout=0.5)
        assert PIN not in str(ei.value) and sys.executable not in str(ei.value)
        # the TimeoutExpired (which holds the output) is not chained for tracebacks
        assert ei.value.__cause__ is None and ei.value.__suppress_context__

    def test_not_found(self) -> None:
        api = ApiSettings(password_command=f"/nonexistent/prog --pin {PIN}")
        with pytest.raises(SettingsError, match="password_command not found") as ei:
            resolve_password(api)
        assert PIN not in str(ei.value)

    def test_empty_output(self) -> None:
        with pytest.raises(SettingsError, match="printed nothing"):
            resolve_password(ApiSettings(password_command=py_command("pass")))

    def test_bad_quotes_and_nothing_set(self) -> None:
        with pytest.raises(SettingsError, match="unbalanced quotes") as ei:
            resolve_password(ApiSettings(password_command=f"echo '{PIN}"))
        assert PIN not in str(ei.value)
        with pytest.raises(SettingsError, match="no PIN is set"):
            resolve_password(ApiSettings())


# -- property -------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
positive = st.floats(min_value=1e-3, max_value=1e9, allow_nan=False, allow_infinity=False)
non_negative = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)

settings_strategy = st.builds(
    Settings,
    api=st.builds(
        ApiSettings,
        url=st.sampled_from(
            [
                "",
                "https://api.example.test/pm-api/v1.php",
                "https://[2001:db8::1]:8443/x?y=1",
                "http://127.0.0.1:8080/pm-api/v1.php",
            ]
        ),
        login=st.one_of(st.just(""), st.from_regex(r"[0-9]{9}", fullmatch=True)),
        password=text,
        password_command=text,
        allow_insecure_http=st.booleans(),
        timeout=positive,
        proxy_plain_http=st.booleans(),
    ),
    refresh=st.builds(
        RefreshSettings, account_interval=positive, hosters_interval=positive, max_backoff=positive
    ),
    unlock=st.builds(
        UnlockSettings,
        concurrency=st.integers(1, 16),
        max_attempts=st.integers(1, 10**6),
        retry_delay=positive,
        fair_use_delay=positive,
        hoster_hold=positive,
        reuse_window=non_negative,
        history_days=st.integers(0, 10**5),
    ),
    warnings=st.builds(
        WarningSettings,
        fairuse_below=st.floats(0, 1),
        expiry_days_below=st.integers(0, 10**4),
    ),
    ui=st.builds(UiSettings, theme=text, mouse=st.booleans()),
    keymap=st.dictionaries(text.filter(bool), text.filter(str.strip), max_size=4),
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(settings_strategy)
def test_property_save_load_round_trip(s: Settings) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "config.toml"
        save_settings(s, path)
        assert load_settings(path, env=NO_ENV).settings == s
        assert settings_from_dict(settings_to_dict(s)) == s
