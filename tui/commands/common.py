"""What every command needs: the profile (settings and directories), the
client, the demo emulator, exit codes and one-sentence errors on stderr."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING

from tui.api import (
    ApiError,
    CaFileError,
    Credentials,
    InsecureTransport,
    LoginFailed,
    MalformedResponse,
    TransportError,
    UntrustedCertificate,
)
from tui.settings import (
    ApiSettings,
    Settings,
    SettingsError,
    cache_dir,
    config_path,
    data_dir,
    load_settings,
    resolve_password,
)

if TYPE_CHECKING:
    from tui.api.client import ApiClient

DEMO_LOGIN, DEMO_PIN = "111111111", "1111"


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    LOGIN_FAILED = 3
    UNREACHABLE = 4


@dataclass(frozen=True)
class Profile:
    """The settings and the directories one run of linkdeck works with."""

    settings: Settings
    config_path: Path
    data_dir: Path
    cache_dir: Path
    warnings: tuple[str, ...] = ()
    demo: bool = False
    config_error: str | None = None
    """Why the config file could not be used (the dashboard then starts on defaults)."""

    @property
    def history_path(self) -> Path:
        return self.data_dir / "history.sqlite3"

    def cache_path(self, kind: str, api: ApiSettings | None = None) -> Path:
        """The cache of `kind` for the account of `api` (default: these settings')."""
        from tui.disk_cache import cache_file

        api = api or self.settings.api
        return cache_file(self.cache_dir, kind, api.url, api.login)

    @property
    def hosters_cache_path(self) -> Path:
        return self.cache_path("hosters")

    @property
    def account_cache_path(self) -> Path:
        return self.cache_path("account")


def flag_overrides(args: argparse.Namespace) -> dict[str, object]:
    overrides: dict[str, object] = {}
    if getattr(args, "api_url", None):
        overrides["api.url"] = args.api_url
    if getattr(args, "login", None):
        overrides["api.login"] = args.login
    if getattr(args, "no_mouse", False):
        overrides["ui.mouse"] = False
    return overrides


@contextmanager
def open_profile(
    args: argparse.Namespace, env: Mapping[str, str] = os.environ
) -> Iterator[Profile]:
    """The user's profile, or with `--demo` a throw-away one beside a running emulator.

    Raises SettingsError when the configuration cannot be used.
    """
    if not getattr(args, "demo", False):
        path = config_path(getattr(args, "config", None), env)
        loaded = load_settings(path, env, flag_overrides(args))
        yield Profile(loaded.settings, path, data_dir(env), cache_dir(env), loaded.warnings)
        return

    from tui.emulator import Emulator

    with tempfile.TemporaryDirectory(prefix="linkdeck-demo-") as tmp, Emulator() as emulator:
        root = Path(tmp)
        path = root / "config" / "config.toml"
        loaded = load_settings(path, {}, flag_overrides(args))
        api = replace(loaded.settings.api, url=emulator.url, login=DEMO_LOGIN, password=DEMO_PIN)
        settings = replace(loaded.settings, api=api)
        yield Profile(settings, path, root / "data", root / "cache", demo=True)


def fallback_profile(
    args: argparse.Namespace, error: SettingsError, env: Mapping[str, str] = os.environ
) -> Profile:
    """Defaults, for a dashboard that opens on a config file it cannot use:
    the error is shown and the file is left as it is."""
    path = config_path(getattr(args, "config", None), env)
    return Profile(Settings(), path, data_dir(env), cache_dir(env), config_error=str(error))


def make_client(settings: Settings) -> ApiClient:
    """A client for the configured service; raises SettingsError or InsecureTransport."""
    api = settings.api
    if not api.url:
        raise SettingsError("no API URL is configured: set url in [api] or pass --api-url")
    if not api.login:
        raise SettingsError("no login is configured: set login in [api] or pass --login")
    from tui.api.client import ApiClient

    return ApiClient(
        api.url,
        Credentials(api.login, resolve_password(api)),
        timeout=api.timeout,
        allow_insecure_http=api.allow_insecure_http,
        proxy_plain_http=api.proxy_plain_http,
        ca_file=api.ca_file,
    )


def exit_code_for(error: BaseException) -> ExitCode:
    if isinstance(error, LoginFailed):
        return ExitCode.LOGIN_FAILED
    if isinstance(error, TransportError | MalformedResponse):
        return ExitCode.UNREACHABLE
    if isinstance(error, ApiError) and error.status is not None and error.status >= 500:
        return ExitCode.UNREACHABLE
    if isinstance(error, SettingsError | InsecureTransport | CaFileError):
        return ExitCode.USAGE
    return ExitCode.FAILED


def explain(error: BaseException) -> str:
    """One sentence for stderr."""
    if isinstance(error, LoginFailed):
        return "login failed: check the login and PIN in your settings"
    if isinstance(error, UntrustedCertificate):
        return str(error)
    if isinstance(error, TransportError):
        return f"the service is unreachable: {error.server_message}"
    if isinstance(error, MalformedResponse):
        return f"the service sent a malformed answer: {error.server_message}"
    if isinstance(error, ApiError):
        return f"the service answered {error}"
    return str(error)


def report(error: BaseException) -> ExitCode:
    """Print `error` as one sentence on stderr and return its exit code."""
    print(f"linkdeck: {explain(error)}", file=sys.stderr)
    return exit_code_for(error)


def print_warnings(profile: Profile) -> None:
    for warning in profile.warnings:
        print(f"linkdeck: warning: {warning}", file=sys.stderr)
