"""The core: one session under every front end (the dashboard, the commands).

No Textual here; the UI gets a `Session` by injection and shows its events.
"""

from tui.core.events import (
    AccountChanged,
    AccountView,
    BatchEnded,
    BatchProgress,
    Connection,
    Event,
    FairUseTrend,
    HistoryOpened,
    HosterOutcomes,
    HostersChanged,
    HostersFailed,
    Notice,
    SettingsNeeded,
)
from tui.core.exports import ExportFailed, ExportResult
from tui.core.profile import (
    DEMO_LOGIN,
    DEMO_PIN,
    Profile,
    client_for,
    fallback_profile,
    open_profile,
)
from tui.core.session import (
    ActedOn,
    ActionRefused,
    ItemAction,
    Session,
    why_no_link,
    why_not,
)

__all__ = [
    "DEMO_LOGIN",
    "DEMO_PIN",
    "AccountChanged",
    "AccountView",
    "ActedOn",
    "ActionRefused",
    "BatchEnded",
    "BatchProgress",
    "Connection",
    "Event",
    "ExportFailed",
    "ExportResult",
    "FairUseTrend",
    "HistoryOpened",
    "HosterOutcomes",
    "HostersChanged",
    "HostersFailed",
    "ItemAction",
    "Notice",
    "Profile",
    "Session",
    "SettingsNeeded",
    "client_for",
    "fallback_profile",
    "open_profile",
    "why_no_link",
    "why_not",
]
