"""The settings model: frozen dataclasses whose fields document themselves.

Every field carries ``metadata["help"]`` (one line, shown by the settings screen)
and, where it applies, ``min`` / ``max`` / ``gt`` bounds that the validator
enforces. Nothing here imports Textual, and nothing here formats the password:
``repr=False`` keeps it out of every ``repr``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "ENGINES",
    "ApiSettings",
    "Aria2Settings",
    "DownloadSettings",
    "NotifySettings",
    "Override",
    "RefreshSettings",
    "SettingField",
    "Settings",
    "SettingsError",
    "UiSettings",
    "UnlockSettings",
    "WarningSettings",
    "setting_fields",
]


def _opt(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    gt: float | None = None,
    secret: bool = False,
    choices: tuple[str, ...] = (),
) -> Any:
    """A dataclass field with its help line, bounds and choices in ``metadata``."""
    meta = {"help": help, "min": min, "max": max, "gt": gt, "secret": secret, "choices": choices}
    return field(default=default, metadata=meta, repr=not secret)


@dataclass(frozen=True)
class ApiSettings:
    """How to reach the service and who to log in as."""

    url: str = _opt("", "Full API endpoint, e.g. https://host/pm-api/v1.php (no built-in default)")
    login: str = _opt("", "Your customer ID (usually 9 digits)")
    password: str = _opt("", "Your account PIN (or use password_command)", secret=True)
    password_command: str = _opt(
        "", "Command whose first line of output is the PIN, e.g. pass show linkdeck (no shell)"
    )
    allow_insecure_http: bool = _opt(
        False, "Allow plain http:// to a non-loopback host (sends the PIN unencrypted)"
    )
    timeout: float = _opt(
        20.0, "Seconds an API call may take in all: connecting, headers and body", gt=0
    )
    proxy_plain_http: bool = _opt(
        False, "Let allowed plain http:// use the environment's proxy (the proxy sees the PIN)"
    )
    ca_file: str = _opt(
        "", "Full path of a CA certificate (PEM or DER) to trust besides the system's"
    )


@dataclass(frozen=True)
class RefreshSettings:
    """How often the dashboard refreshes by itself."""

    account_interval: float = _opt(60.0, "Seconds between account status refreshes", gt=0)
    hosters_interval: float = _opt(3600.0, "Seconds between hoster list refreshes", gt=0)
    max_backoff: float = _opt(600.0, "Longest wait in seconds between refreshes after errors", gt=0)


@dataclass(frozen=True)
class UnlockSettings:
    """The unlock queue and its retry policy."""

    concurrency: int = _opt(2, "Links unlocked at the same time (1 to 16)", min=1, max=16)
    max_attempts: int = _opt(5, "Attempts per link before it is given up", min=1)
    retry_delay: float = _opt(
        180.0, "Seconds before retrying after 502, 503, network or malformed answers", gt=0
    )
    fair_use_delay: float = _opt(
        600.0, "Seconds unlocking pauses after 509 (fair use exhausted)", gt=0
    )
    hoster_hold: float = _opt(1800.0, "Seconds a hoster is held back after 428", gt=0)
    reuse_window: float = _opt(
        1800.0, "Seconds within which the same link is answered from history (0 = never)", min=0
    )
    history_days: int = _opt(90, "Days of unlock history to keep (0 = keep forever)", min=0)


@dataclass(frozen=True)
class WarningSettings:
    """When the dashboard warns about the account."""

    fairuse_below: float = _opt(
        0.2, "Warn when fair use left falls below this (0 to 1)", min=0, max=1
    )
    expiry_days_below: int = _opt(7, "Warn when fewer days than this are left", min=0)


@dataclass(frozen=True)
class UiSettings:
    """Look and input."""

    theme: str = _opt("textual-dark", "Textual theme name")
    mouse: bool = _opt(True, "Enable mouse support (off saves bandwidth over SSH)")


@dataclass(frozen=True)
class NotifySettings:
    """What the dashboard does when a batch of links has ended."""

    bell: bool = _opt(True, "Ring the terminal bell when every link of a batch has ended")
    desktop: bool = _opt(
        True, "Ask the terminal for a desktop notification then (OSC 9 / 777, tmux too)"
    )


ENGINES = ("builtin", "aria2")
"""What downloads a file: linkdeck itself, or an aria2 daemon over its JSON-RPC."""


@dataclass(frozen=True)
class DownloadSettings:
    """Where and how direct links become files."""

    dir: str = _opt("", "Folder for downloads, a full path (empty: your Downloads folder)")
    auto: bool = _opt(False, "Download every unlocked link as soon as it is unlocked")
    engine: str = _opt(
        "builtin", "What downloads: builtin, or aria2 (see [aria2])", choices=ENGINES
    )
    concurrent_files: int = _opt(2, "Files downloaded at the same time (1 to 16)", min=1, max=16)
    max_connections_per_file: int = _opt(
        16, "Most connections per file, under the service's own limit (1 to 16)", min=1, max=16
    )
    rate_limit: int = _opt(0, "Total bytes per second for all downloads (0 = no limit)", min=0)
    min_free_space: int = _opt(
        1 << 30, "Bytes to keep free on the download disk: downloads stop before (0 = none)", min=0
    )


@dataclass(frozen=True)
class Aria2Settings:
    """An aria2 daemon that downloads, when [download] engine = "aria2"."""

    rpc_url: str = _opt(
        "http://127.0.0.1:6800/jsonrpc", "aria2's JSON-RPC URL (plain http:// only to this machine)"
    )
    secret: str = _opt("", "aria2's --rpc-secret (or use secret_command)", secret=True)
    secret_command: str = _opt(
        "", "Command whose first line of output is aria2's secret (no shell)"
    )


@dataclass(frozen=True)
class Override:
    """A setting whose value came from the environment or the command line.

    ``save_settings`` writes ``file_value`` instead of ``value`` while the
    setting still holds ``value``, so an override is never persisted by accident
    (above all ``LINKDECK_PASSWORD``). ``file_value`` is ``None`` when the key
    was absent from the file (only possible for ``keymap`` entries).
    """

    source: str
    """Where the value came from, e.g. ``"LINKDECK_PASSWORD"`` or ``"command line"``."""
    value: object = field(repr=False)
    file_value: object = field(repr=False)


@dataclass(frozen=True)
class Settings:
    """All settings. Build from a file with ``load_settings``; edit with ``dataclasses.replace``."""

    api: ApiSettings = field(default_factory=ApiSettings, metadata={"help": "API access"})
    refresh: RefreshSettings = field(
        default_factory=RefreshSettings, metadata={"help": "Refresh intervals"}
    )
    unlock: UnlockSettings = field(
        default_factory=UnlockSettings, metadata={"help": "Unlock queue and retries"}
    )
    warnings: WarningSettings = field(
        default_factory=WarningSettings, metadata={"help": "Account warnings"}
    )
    ui: UiSettings = field(default_factory=UiSettings, metadata={"help": "User interface"})
    notify: NotifySettings = field(
        default_factory=NotifySettings, metadata={"help": "When a batch ends"}
    )
    download: DownloadSettings = field(
        default_factory=DownloadSettings, metadata={"help": "Downloads"}
    )
    aria2: Aria2Settings = field(
        default_factory=Aria2Settings, metadata={"help": "aria2 as the download engine"}
    )
    keymap: Mapping[str, str] = field(
        default_factory=dict,
        hash=False,
        metadata={"help": 'Key bindings by binding id, e.g. copy-link = "ctrl+y"'},
    )
    overrides: Mapping[str, Override] = field(
        default_factory=dict, repr=False, compare=False, hash=False
    )
    """Dotted key -> Override, for values set by the environment or the command line."""

    def __post_init__(self) -> None:
        # Copy into read-only mappings so nobody can mutate a frozen Settings.
        object.__setattr__(self, "keymap", MappingProxyType(dict(self.keymap)))
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    def is_usable(self) -> bool:
        """True when the URL, the login and a PIN (or a command for it) are all set."""
        api = self.api
        return bool(api.url and api.login and (api.password or api.password_command))

    def get(self, key: str) -> object:
        """The value of a dotted key such as ``"unlock.concurrency"`` or ``"keymap.unlock"``."""
        section, _, name = key.partition(".")
        if section == "keymap":
            return self.keymap.get(name)
        return getattr(getattr(self, section), name)


#: Section name -> dataclass, in file order (``keymap`` is separate: free-form).
SECTIONS: dict[str, type] = {
    "api": ApiSettings,
    "refresh": RefreshSettings,
    "unlock": UnlockSettings,
    "warnings": WarningSettings,
    "ui": UiSettings,
    "notify": NotifySettings,
    "download": DownloadSettings,
    "aria2": Aria2Settings,
}


@dataclass(frozen=True)
class SettingField:
    """One setting, described for the settings screen and the validator."""

    key: str
    """Dotted key, e.g. ``"unlock.concurrency"``."""
    section: str
    name: str
    type: type
    """``str``, ``int``, ``float`` or ``bool``."""
    default: object = field(repr=False)
    help: str
    min: float | None = None
    max: float | None = None
    gt: float | None = None
    """Exclusive lower bound."""
    secret: bool = False
    """True for the password and aria2's secret: never shown, logged or echoed."""
    choices: tuple[str, ...] = ()
    """The only values a text setting takes, when it is one of a few."""
    label: str = ""
    """What the settings form calls it: "Account interval", "PIN"."""


_TYPES = {"str": str, "int": int, "float": float, "bool": bool}

# Generated labels read "Url" and "Password"; the few fields whose name is not
# what the user calls the thing get a better one. Everything else is derived.
_LABELS = {
    "api.url": "API URL",
    "api.password": "PIN",
    "api.password_command": "PIN command",
    "api.allow_insecure_http": "Allow plain HTTP",
    "api.proxy_plain_http": "Plain HTTP via proxy",
    "api.ca_file": "CA file",
    "download.dir": "Folder",
    "download.auto": "Auto download",
    "download.max_connections_per_file": "Connections per file",
    "aria2.rpc_url": "RPC URL",
}


def _build_fields() -> dict[str, SettingField]:
    out: dict[str, SettingField] = {}
    for section, cls in SECTIONS.items():
        for declared in dataclasses.fields(cls):
            meta = declared.metadata
            # With ``from __future__ import annotations`` the type is its name.
            field_type = (
                declared.type if isinstance(declared.type, type) else _TYPES[str(declared.type)]
            )
            key = f"{section}.{declared.name}"
            out[key] = SettingField(
                key=key,
                section=section,
                name=declared.name,
                type=field_type,
                default=declared.default,
                help=meta["help"],
                min=meta["min"],
                max=meta["max"],
                gt=meta["gt"],
                secret=meta["secret"],
                choices=meta["choices"],
                label=_LABELS.get(key) or declared.name.replace("_", " ").capitalize(),
            )
    return out


FIELDS: dict[str, SettingField] = _build_fields()


def setting_fields() -> tuple[SettingField, ...]:
    """Every setting except the free-form keymap, in file order."""
    return tuple(FIELDS.values())


class SettingsError(ValueError):
    """A problem with the settings, located by file, dotted key and line.

    ``str(err)`` is one sentence naming what is known of file, key and line;
    ``err.detail`` is the same without the file and line, for inline display next
    to a field. Messages never contain the password or a command's output.
    ``err.problems`` holds every problem found when several were (itself first).
    """

    def __init__(
        self,
        reason: str,
        *,
        key: str | None = None,
        line: int | None = None,
        path: object | None = None,
        hint: str | None = None,
    ) -> None:
        self.reason = reason
        self.key = key
        self.line = line
        self.path = path
        self.hint = hint
        self.problems: tuple[SettingsError, ...] = (self,)
        super().__init__(str(self))

    @property
    def detail(self) -> str:
        """The reason and hint, without file or line."""
        return f"{self.reason}; {self.hint}" if self.hint else self.reason

    @property
    def labelled_detail(self) -> str:
        """The detail as the settings form says it: the setting by its label,
        its key in parentheses ("Concurrency (unlock.concurrency) must be…")."""
        return self._labelled(self.detail)

    @property
    def labelled(self) -> str:
        """The whole sentence (file and line too), the setting named by its label."""
        return self._labelled(str(self))

    def _labelled(self, text: str) -> str:
        setting = FIELDS.get(self.key or "")
        if setting is None or setting.key not in text:
            return text
        return text.replace(setting.key, f"{setting.label} ({setting.key})", 1)

    def __str__(self) -> str:
        text = f"{self.path}: {self.reason}" if self.path is not None else self.reason
        if self.line is not None:
            text += f" (line {self.line})"
        if self.hint:
            text += f"; {self.hint}"
        return text

    def located(self, path: object | None, line: int | None) -> SettingsError:
        """A copy of this error with a file and line."""
        return SettingsError(self.reason, key=self.key, line=line, path=path, hint=self.hint)
