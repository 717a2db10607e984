"""A faithful local server of the legacy multi-hoster API (standard library; trustme for TLS).

Used by ``linkdeck --demo``, ``linkdeck emulator`` and the tests. See README.md
beside this file for the behaviour and the scenario file format.
"""

from tui.emulator.faults import Faults
from tui.emulator.scenario import (
    AccountSpec,
    ConnectionSettings,
    Hoster,
    Scenario,
    ScenarioError,
    default_scenario,
    load_scenario,
)
from tui.emulator.server import Emulator
from tui.emulator.state import AccountState, Stats

__all__ = [
    "AccountSpec",
    "AccountState",
    "ConnectionSettings",
    "Emulator",
    "Faults",
    "Hoster",
    "Scenario",
    "ScenarioError",
    "Stats",
    "default_scenario",
    "load_scenario",
]
