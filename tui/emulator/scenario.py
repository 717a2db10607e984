"""Scenarios: the accounts, hosters and faults an emulator serves, read from TOML.

The format is documented in README.md beside this module; the built-in scenario
is ``default_scenario.toml`` in this package.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tui.emulator.faults import Faults

ACCOUNT_TYPES = ("premium", "trial", "prepaid", "free")
PROBABILITIES = frozenset({"error_rate", "dl_drop_after"})
"""Fields of Faults that are a share from 0 to 1."""


class ScenarioError(ValueError):
    """A scenario file that cannot be read or does not describe a valid scenario."""


@dataclass(frozen=True)
class ConnectionSettings:
    max_connections_per_file: int = 4
    max_connections_per_hoster: int = 8
    resume: bool = True

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AccountSpec:
    login: str
    pin: str = field(repr=False)  # keeps the PIN out of reprs, tracebacks and logs
    type: str = "premium"
    expires_in_days: float | None = None
    fairuse_left: float = 1.0
    extuid: str = ""


@dataclass(frozen=True)
class Hoster:
    name: str
    tlds: tuple[str, ...]
    regexes: tuple[str, ...]
    cost_factor: int = 1
    connection_settings: ConnectionSettings | None = None


@dataclass
class Scenario:
    accounts: list[AccountSpec] = field(default_factory=list)
    hosters: list[Hoster] = field(default_factory=list)
    unavailable_hoster: str | None = None
    connection_settings: ConnectionSettings = field(default_factory=ConnectionSettings)
    faults: Faults = field(default_factory=Faults)


def default_scenario() -> Scenario:
    """The built-in scenario: five demo accounts and about 65 hosters of the era."""
    text = resources.files("tui.emulator").joinpath("default_scenario.toml").read_text("utf-8")
    return parse_scenario(text, "default_scenario.toml")


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file; raise ScenarioError with a readable reason."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"Cannot read scenario file {path}: {exc}") from exc
    return parse_scenario(text, str(path))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source} is not valid TOML: {exc}") from exc
    except ValueError:  # tomllib's int() of more than 4300 digits
        raise ScenarioError(f"{source} is not valid TOML: a number has too many digits") from None
    return _Reader(source).scenario(data)


class _Reader:
    """Turns parsed TOML into a Scenario, naming the exact field that is wrong."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {where} {message}.")

    def table(self, value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "must be a table")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.fail(where, f"has unknown key(s) {', '.join(unknown)}")
        return value

    def str_(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, "must be a non-empty string")
        return value

    def int_(self, value: Any, where: str, low: int, high: int | None = None) -> int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok or value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise self.fail(where, f"must be an integer {bound}, got {value!r}")
        return value

    def float_(self, value: Any, where: str, low: float, high: float | None = None) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise self.fail(where, f"must be a number {bound}, got {value!r}")
        return float(value)

    def bool_(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"must be true or false, got {value!r}")
        return value

    def str_list(self, value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(where, "must be a list of non-empty strings")
        return tuple(value)

    def scenario(self, data: dict[str, Any]) -> Scenario:
        keys = {"accounts", "hosters", "unavailable_hoster", "connection_settings", "faults"}
        self.table(data, "the top level", keys)
        accounts = [
            self.account(a, f"accounts[{i}]") for i, a in enumerate(self.array(data, "accounts"))
        ]
        hosters = [
            self.hoster(h, f"hosters[{i}]") for i, h in enumerate(self.array(data, "hosters"))
        ]
        self.unique([a.login for a in accounts], "accounts", "login")
        self.unique([h.name for h in hosters], "hosters", "name")
        unavailable = data.get("unavailable_hoster")
        if unavailable is not None:
            unavailable = self.str_(unavailable, "unavailable_hoster")
            if unavailable not in {h.name for h in hosters}:
                raise self.fail("unavailable_hoster", f"names {unavailable!r}, which is no hoster")
        settings = data.get("connection_settings")
        return Scenario(
            accounts=accounts,
            hosters=hosters,
            unavailable_hoster=unavailable,
            connection_settings=(
                self.connection(settings, "connection_settings")
                if settings is not None
                else ConnectionSettings()
            ),
            faults=self.faults(data.get("faults", {}), "faults"),
        )

    def array(self, data: dict[str, Any], key: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, f"must be an array of tables ([[{key}]])")
        return value

    def unique(self, values: list[str], where: str, key: str) -> None:
        seen: set[str] = set()
        for value in values:
            if value in seen:
                raise self.fail(where, f"repeat the {key} {value!r}")
            seen.add(value)

    def account(self, value: Any, where: str) -> AccountSpec:
        keys = {"login", "pin", "type", "expires_in_days", "fairuse_left", "extuid"}
        t = self.table(value, where, keys)
        for required in ("login", "pin"):
            if required not in t:
                raise self.fail(where, f"needs a {required}")
        login = self.str_(t["login"], f"{where}.login")
        kind = t.get("type", "premium")
        if kind not in ACCOUNT_TYPES:
            raise self.fail(f"{where}.type", f"must be one of {', '.join(ACCOUNT_TYPES)}")
        days = t.get("expires_in_days")
        return AccountSpec(
            login=login,
            pin=self.str_(t["pin"], f"{where}.pin"),
            type=kind,
            expires_in_days=None
            if days is None
            else self.float_(days, f"{where}.expires_in_days", -36500),
            fairuse_left=self.float_(t.get("fairuse_left", 1.0), f"{where}.fairuse_left", 0.0, 1.0),
            extuid=self.str_(t["extuid"], f"{where}.extuid") if "extuid" in t else f"ext{login}",
        )

    def hoster(self, value: Any, where: str) -> Hoster:
        keys = {"name", "tlds", "regexes", "cost_factor", "connection_settings"}
        t = self.table(value, where, keys)
        for required in ("name", "tlds", "regexes"):
            if required not in t:
                raise self.fail(where, f"needs {required}")
        settings = t.get("connection_settings")
        return Hoster(
            name=self.str_(t["name"], f"{where}.name"),
            tlds=self.str_list(t["tlds"], f"{where}.tlds"),
            regexes=self.str_list(t["regexes"], f"{where}.regexes"),
            cost_factor=self.int_(t.get("cost_factor", 1), f"{where}.cost_factor", 1, 10),
            connection_settings=(
                None
                if settings is None
                else self.connection(settings, f"{where}.connection_settings")
            ),
        )

    def connection(self, value: Any, where: str) -> ConnectionSettings:
        names = {f.name for f in dataclasses.fields(ConnectionSettings)}
        t = self.table(value, where, names)
        default = ConnectionSettings()
        return ConnectionSettings(
            max_connections_per_file=self.int_(
                t.get("max_connections_per_file", default.max_connections_per_file),
                f"{where}.max_connections_per_file",
                1,
            ),
            max_connections_per_hoster=self.int_(
                t.get("max_connections_per_hoster", default.max_connections_per_hoster),
                f"{where}.max_connections_per_hoster",
                1,
            ),
            resume=self.bool_(t.get("resume", default.resume), f"{where}.resume"),
        )

    def faults(self, value: Any, where: str) -> Faults:
        fields = {f.name: f for f in dataclasses.fields(Faults)}
        t = self.table(value, where, set(fields))
        values: dict[str, Any] = {}
        for key, raw in t.items():
            kind = type(fields[key].default)
            if kind is bool:
                values[key] = self.bool_(raw, f"{where}.{key}")
            elif kind is int:
                values[key] = self.int_(raw, f"{where}.{key}", 0)
            elif key in PROBABILITIES:
                values[key] = self.float_(raw, f"{where}.{key}", 0.0, 1.0)
            else:
                values[key] = self.float_(raw, f"{where}.{key}", 0.0)
        return Faults(**values)


def hosterlist_result(hosters: list[Hoster], default: ConnectionSettings) -> dict[str, Any]:
    """The ``result`` of a hosterlist answer: the map, the flat lists, connection settings."""
    settings = {"all": default.as_json()}
    for h in hosters:
        if h.connection_settings is not None:
            settings[h.name] = h.connection_settings.as_json()
    return {
        "hosters": {h.name: {"tlds": list(h.tlds), "regexes": list(h.regexes)} for h in hosters},
        "regexlist": [rx for h in hosters for rx in h.regexes],
        "tldlist": [tld for h in hosters for tld in h.tlds],
        "hosterlist": [h.name for h in hosters],
        "connection_settings": settings,
    }


def generated_hosters(count: int) -> list[Hoster]:
    """``count`` synthetic hosters (host00042.example ...) for load tests of clients."""
    width = max(5, len(str(count - 1)))
    hosters = []
    for i in range(count):
        label = f"host{i:0{width}d}"
        hosters.append(
            Hoster(
                name=f"{label}.example",
                tlds=(f"{label}.example", f"{label}.example.net"),
                regexes=(rf"https?://(?:www\.)?{label}\.example(?:\.net)?/file/[a-z0-9]+.*",),
                cost_factor=1 + i % 10,
            )
        )
    return hosters
