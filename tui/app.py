"""The linkdeck App: the dashboard's shell around a session.

The session (`tui.core`) does the work; the App shows what it tells, one batch
of events per turn, and turns keys into its operations.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from functools import partial
from itertools import count
from typing import TYPE_CHECKING

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tui.core import (
    ActionRefused,
    HistoryOpened,
    HostersChanged,
    Notice,
    Profile,
    Session,
    SettingsNeeded,
)
from tui.messages import SessionEvents
from tui.resources import styles_dir
from tui.screens.dashboard import DashboardScreen, keymap_keeping_shared_keys
from tui.settings import Settings, keymap_warnings
from tui.unlock.clock import Clock
from tui.unlock.items import Item, ItemRemoved
from tui.unlock.policy import status_rows

if TYPE_CHECKING:
    import httpx

    from tui.core.events import Event
    from tui.core.log_file import LogFile


class LinkdeckApp(App[None]):
    """The dashboard. Build it with `LinkdeckApp(profile)`; tests inject a clock
    and an `httpx.AsyncClient`."""

    TITLE = "linkdeck"
    CSS_PATH = [styles_dir() / "app.tcss"]

    BINDINGS = [
        Binding(
            "question_mark",
            "help",
            "Help",
            id="help",
            tooltip="What every key does, and the status codes' meanings",
        ),
        Binding("s", "settings", "Settings", id="settings", tooltip="Edit and test the settings"),
        Binding(
            "r",
            "refresh",
            "Refresh",
            id="refresh",
            tooltip="Refresh the account and the hosters now",
        ),
        Binding("p", "toggle_pause", "Pause", id="pause", tooltip="Pause or resume the queue"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit linkdeck"),
    ]

    def __init__(
        self,
        profile: Profile,
        *,
        clock: Clock | None = None,
        http: httpx.AsyncClient | None = None,
        log_file: LogFile | None = None,
    ) -> None:
        super().__init__()
        self.session = Session(profile, clock=clock, http=http, log_file=log_file)
        # What the first frame shows, the cached account and hoster list, is read
        # now; the history, the hosters' matcher and the network come after it.
        self.session.read_cache()
        self.dashboard = DashboardScreen(self.session)
        self._pending: dict[object, Event] = {}
        self._notice_keys = count()
        self._held_input: list[events.Key | events.Paste] | None = []
        """Keys and pastes that came before the dashboard's later parts were
        mounted (`DashboardScreen.build`); None once they are."""
        self._unsubscribe = self.session.subscribe(self._session_event)
        if profile.settings.keymap:
            self.set_keymap(keymap_keeping_shared_keys(profile.settings.keymap))

    @property
    def settings(self) -> Settings:
        return self.session.settings

    # --- start and stop ---------------------------------------------------

    def get_default_screen(self) -> Screen:
        return self.dashboard

    async def on_mount(self) -> None:
        self.apply_ui_settings(self.settings)
        self.call_after_refresh(self._after_first_frame)
        # The dashboard composes in its own task: the first frame waits for it,
        # and for nothing else (Textual holds that frame until this returns).
        # It shows what is cached; the rest comes right after it.
        await self.dashboard._mounted_event.wait()
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        # A worker: the screen is drawn while the history opens.
        self.run_worker(self._open(), name="open", exit_on_error=True)

    async def _open(self) -> None:
        await self.dashboard.build()
        held, self._held_input = self._held_input or [], None
        for event in held:
            self.post_message(event)
        await self.session.open()
        self._warn_of_keymap(self.settings)
        # After the frame that shows the history: what is cached shows before
        # the network is touched.
        self.call_after_refresh(self._connect_first)

    def _warn_of_keymap(self, settings: Settings) -> None:
        """`[keymap]` entries that name no binding change nothing: say which."""
        if not settings.keymap:
            return
        from tui.screens.detail import ItemDetailScreen
        from tui.screens.help import HelpScreen
        from tui.screens.settings_form import SettingsScreen

        screens = (self, DashboardScreen, ItemDetailScreen, HelpScreen, SettingsScreen)
        ids = [
            binding.id
            for screen in screens
            for binding in screen.BINDINGS
            if isinstance(binding, Binding) and binding.id
        ]
        for warning in keymap_warnings(settings, ids, self.session.profile.config_path):
            self.notify(warning, title="Settings", severity="warning", timeout=15, markup=False)

    @staticmethod
    def _after_first_frame() -> None:
        # What the start built lives as long as the app: out of the collector's
        # sight, a full collection during a large paste takes 30 ms, not 100.
        # `linkdeck` starts the dashboard with the collector off: frozen before it
        # is back, the start's 60,000 objects are never scanned (a pass would
        # take 20 ms to find some 1,500 garbage ones, frozen with the rest).
        gc.freeze()
        gc.enable()

    async def _connect_first(self) -> None:
        # Not in a worker: a failure here is a bug, and ends in the crash report.
        if self.session.can_connect():
            await self.session.connect()
            # After the restored items and the first rows on screen were read.
            self.call_after_refresh(self.session.report_unreadable_rows)

    async def on_event(self, event: events.Event) -> None:
        if self._held_input is not None and isinstance(event, events.Key | events.Paste):
            # Typed ahead, a key waits for the dashboard's later parts (a few
            # tens of milliseconds after the first frame): it then goes where it
            # would have gone, a paste into the input it was meant for.
            self._held_input.append(event)
            return
        await super().on_event(event)

    async def on_unmount(self) -> None:
        self._unsubscribe()
        await self.session.close()

    def apply_ui_settings(self, settings: Settings) -> None:
        theme = settings.ui.theme
        self.theme = theme if theme in self.available_themes else "textual-dark"

    async def apply_settings(self, settings: Settings) -> None:
        """Settings were saved: use them at once."""
        self.apply_ui_settings(settings)
        if settings.keymap:
            self.set_keymap(keymap_keeping_shared_keys(settings.keymap))
            self._warn_of_keymap(settings)
        if self.is_screen_installed("help"):
            self.uninstall_screen("help")  # it shows the keys as they were bound
        await self.session.apply(settings)

    # --- the session's events ----------------------------------------------

    def _session_event(self, event: Event) -> None:
        """Keep the latest event of each kind (of each item) until the UI's turn:
        one message at a time, so that a paste of 10,000 links is a few batches
        in the queue rather than 30,000 messages that every key press waits behind."""
        if not self._pending:
            self.post_message(SessionEvents())
        if isinstance(event, Item | ItemRemoved):
            key: object = event.id
        elif isinstance(event, Notice):
            key = ("notice", next(self._notice_keys))  # every notice is shown
        else:
            key = type(event)
        self._pending.pop(key, None)  # the newest goes last, as it came
        self._pending[key] = event

    def on_session_events(self, _: SessionEvents) -> None:
        events, self._pending = self._pending, {}
        for event in events.values():
            if isinstance(event, Notice):
                self.notify(
                    event.text,
                    title=event.title,
                    severity=event.severity,
                    timeout=event.timeout,
                    markup=False,
                )
            elif isinstance(event, SettingsNeeded):
                self._open_settings(first_run=True)
            elif isinstance(event, HistoryOpened):
                self.dashboard.show_event(event)
                # Drawing the rows is what finds the damaged ones.
                self.call_after_refresh(self.session.report_unreadable_rows)
            else:
                self.dashboard.show_event(event)
                if isinstance(event, HostersChanged):
                    # A list of 50,000 hosters, its patterns and its rows live until
                    # the next list: out of the collector's sight too (a full
                    # collection took 250 ms).
                    self.call_after_refresh(gc.freeze)

    # --- actions ----------------------------------------------------------

    def action_refresh(self) -> None:
        try:
            self.session.refresh()
        except ActionRefused as refused:
            self.notify(str(refused), severity="warning")
            return
        self.notify("Refreshing the account and the hosters", timeout=2)

    def action_toggle_pause(self) -> None:
        paused = self.session.toggle_pause()
        if paused is True:
            self.notify("Queue paused: press p to resume", timeout=3)
        elif paused is False:
            self.notify("Queue resumed", timeout=2)

    def action_settings(self) -> None:
        self._open_settings(first_run=False)

    def _open_settings(self, *, first_run: bool) -> None:
        from tui.screens.settings_form import SettingsScreen

        screen = SettingsScreen(
            self.settings,
            self.session.profile.config_path,
            themes=sorted(self.available_themes),
            first_run=first_run,
        )
        self.push_screen(screen, self._settings_closed)

    async def _settings_closed(self, saved: Settings | None) -> None:
        if saved is not None:
            await self.apply_settings(saved)

    def action_help(self) -> None:
        # Built once and kept: composing its tables is the slow part of opening it.
        if not self.is_screen_installed("help"):
            from tui.screens.help import HelpScreen

            bindings = [*DashboardScreen.BINDINGS, *self.BINDINGS]
            rows = status_rows(self.settings.unlock)
            help_screen = HelpScreen(bindings, self.settings.keymap, self.get_key_display, rows)
            self.install_screen(help_screen, "help")
        self.push_screen("help")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        dashboard = self.dashboard
        # The dashboard's actions run in its namespace (whatever has focus), the app's
        # in the app's.
        runners = (
            (partial(self.run_action, default_namespace=self), self.BINDINGS),
            (dashboard.run_from_palette, dashboard.BINDINGS),
        )
        for run, bindings in runners:
            for binding in bindings:
                if isinstance(binding, Binding) and binding.id not in ("quit", "leave-input"):
                    yield SystemCommand(
                        binding.description, binding.tooltip, partial(run, binding.action)
                    )
