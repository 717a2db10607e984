"""The profile one run of linkdeck works with: its settings and its directories,
the user's own or, for the demo, a throw-away one beside a running emulator."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tui.api import Credentials
from tui.settings import (
    CONFIG_ENV,
    ApiSettings,
    Settings,
    SettingsError,
    cache_dir,
    config_path,
    data_dir,
    load_settings,
    resolve_password,
    state_dir,
)

if TYPE_CHECKING:
    from tui.api.client import ApiClient

DEMO_LOGIN, DEMO_PIN = "111111111", "1111"
DEMO_DL_RATE = 2_000_000
"""Bytes per second per download connection in the demo: a file of 20 MB takes
about ten seconds over one connection, long enough to see its bar and pause it."""
LOG_NAME = "linkdeck.log"


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
    state_dir: Path | None = None
    """Where the log file goes; None: beside the history, in the data directory."""

    @property
    def history_path(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def log_path(self) -> Path:
        return (self.state_dir or self.data_dir) / LOG_NAME

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


@contextmanager
def open_profile(
    config: str | None,
    overrides: Mapping[str, object],
    *,
    demo: bool = False,
    env: Mapping[str, str] = os.environ,
) -> Iterator[Profile]:
    """The user's profile, or with `demo` a throw-away one beside a running emulator.

    Raises SettingsError when the configuration cannot be used.
    """
    if not demo:
        path = config_path(config, env)
        named_by = "--config" if config else CONFIG_ENV if env.get(CONFIG_ENV) else None
        if named_by and not (path.exists() or path.is_symlink()):
            # Not the defaults, as for a first run: the name is likely mistyped.
            raise SettingsError(f"does not exist (named by {named_by})", path=path)
        loaded = load_settings(path, env, overrides)
        yield Profile(
            loaded.settings,
            path,
            data_dir(env),
            cache_dir(env),
            loaded.warnings,
            state_dir=state_dir(env),
        )
        return

    from tui.emulator import Emulator, Faults

    # Downloads slowed as a real hoster's are, so their progress can be seen.
    demo_faults = Faults(dl_rate=DEMO_DL_RATE)
    with (
        tempfile.TemporaryDirectory(prefix="linkdeck-demo-") as tmp,
        Emulator(faults=demo_faults) as emulator,
    ):
        root = Path(tmp)
        path = root / "config" / "config.toml"
        loaded = load_settings(path, {}, overrides)
        api = replace(loaded.settings.api, url=emulator.url, login=DEMO_LOGIN, password=DEMO_PIN)
        settings = replace(loaded.settings, api=api)
        yield Profile(
            settings, path, root / "data", root / "cache", demo=True, state_dir=root / "state"
        )


def fallback_profile(
    config: str | None, error: SettingsError, env: Mapping[str, str] = os.environ
) -> Profile:
    """Defaults, for a dashboard that opens on a config file it cannot use:
    the error is shown and the file is left as it is."""
    return Profile(
        Settings(),
        config_path(config, env),
        data_dir(env),
        cache_dir(env),
        config_error=str(error),
        state_dir=state_dir(env),
    )


def client_for(settings: Settings) -> ApiClient:
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
