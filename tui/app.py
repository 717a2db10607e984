"""The linkdeck App: the dashboard's shell around a session.

The session (`tui.core`) does the work; the App shows what it tells, one batch
of events per turn, and turns keys into its operations.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from itertools import count
from typing import TYPE_CHECKING

from textual import events, work
from textual.actions import parse as parse_action
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tui.core import (
    ActionRefused,
    BatchEnded,
    BatchProgress,
    HistoryOpened,
    HostersChanged,
    Notice,
    Profile,
    Session,
    SettingsNeeded,
)
from tui.core.events import DownloadChanged
from tui.desktop_notify import BELL, desktop_notification
from tui.messages import SessionEvents
from tui.resources import styles_dir
from tui.screens.dashboard import DashboardScreen, keymap_keeping_shared_keys
from tui.settings import Settings, SettingsError, keymap_warnings, save_settings
from tui.unlock.clock import Clock
from tui.unlock.items import Item, ItemRemoved, QueueState
from tui.unlock.policy import status_rows

if TYPE_CHECKING:
    import httpx
    from textual.theme import Theme

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
        # One of the two shows, as the queue runs or not (`check_action`); one
        # id, so that a [keymap] entry moves both.
        Binding("p", "toggle_pause", "Pause", id="pause", tooltip="Pause or resume the queue"),
        Binding(
            "p", "toggle_pause('resume')", "Resume", id="pause", tooltip="Pause or resume the queue"
        ),
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
        self.theme_changed_signal.subscribe(self, self._theme_changed)
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
        from tui.screens.confirm_quit import ConfirmQuitScreen
        from tui.screens.detail import ItemDetailScreen
        from tui.screens.export_path import ExportPathScreen
        from tui.screens.help import HelpScreen
        from tui.screens.hoster_detail import HosterDetailScreen
        from tui.screens.settings_form import SettingsScreen
        from tui.widgets.hosters import HosterFilter
        from tui.widgets.links_input import LinksInput
        from tui.widgets.marking_table import MarkingTable
        from tui.widgets.unlock_log import LogSearch

        screens = (
            self,
            DashboardScreen,
            ItemDetailScreen,
            HosterDetailScreen,
            HelpScreen,
            SettingsScreen,
            LinksInput,
            HosterFilter,
            LogSearch,
            MarkingTable,
            ExportPathScreen,
            ConfirmQuitScreen,
        )
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
        # The downloads of an earlier run show without a connection too.
        self.session.restore_downloads()
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
        self.theme = self._theme_of(settings)

    def _theme_of(self, settings: Settings) -> str:
        theme = settings.ui.theme
        return theme if theme in self.available_themes else "textual-dark"

    def _theme_changed(self, theme: Theme) -> None:
        """A theme chosen elsewhere than in the settings (the command palette's
        "Change theme") is kept: saved as the settings form saves."""
        if theme.name != self._theme_of(self.settings):
            ui = replace(self.settings.ui, theme=theme.name)
            self._save_settings(replace(self.settings, ui=ui), what="Theme")

    @work(group="save-settings", exit_on_error=False)
    async def _save_settings(self, settings: Settings, *, what: str) -> None:
        try:
            await asyncio.to_thread(save_settings, settings, self.session.profile.config_path)
        except SettingsError as error:
            self.notify(
                f"{what} not saved: {error.labelled}", severity="error", timeout=10, markup=False
            )
            return
        await self.apply_settings(settings)

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
        elif isinstance(event, DownloadChanged):
            key = ("download", event.download.item_id)  # each file's latest
        elif isinstance(event, Notice):
            key = ("notice", next(self._notice_keys))  # every notice is shown
        else:
            key = type(event)
        self._pending.pop(key, None)  # the newest goes last, as it came
        self._pending[key] = event

    def on_session_events(self, _: SessionEvents) -> None:
        events, self._pending = self._pending, {}
        if not self.is_running:
            return  # closing: the widgets are being removed, leaves first
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
            elif isinstance(event, QueueState):
                self.dashboard.show_event(event)
                self.refresh_bindings()  # "Pause" or "Resume"
            elif isinstance(event, BatchEnded):
                self._batch_ended(event.progress)
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

    def _batch_ended(self, batch: BatchProgress) -> None:
        """Every link of the batch has ended: say so, and ring and notify as set."""
        summary = batch.summary()
        self.notify(summary, title="Batch ended", timeout=8, markup=False)
        settings = self.settings.notify
        if settings.bell:
            # Not App.bell(): it writes nothing when headless, where tests look.
            self._write_to_terminal(BELL)
        if settings.desktop:
            tmux = bool(os.environ.get("TMUX"))
            self._write_to_terminal(desktop_notification(self.title, summary, tmux=tmux))

    def _write_to_terminal(self, text: str) -> None:
        """Write escape sequences as Textual writes OSC 52 (it has no public way)."""
        if self._driver is not None:
            self._driver.write(text)

    # --- actions ----------------------------------------------------------

    async def action_quit(self) -> None:
        """Quit, after asking when links are in flight or waiting, or files
        download (they are kept)."""
        from tui.screens.confirm_quit import ConfirmQuitScreen, quit_question

        in_flight, waiting = self.session.unfinished()
        downloads = self.session.downloads
        totals = None if downloads is None else downloads.totals()
        # Queued files go on at the next start too.
        downloading = 0 if totals is None else totals.active + totals.queued
        question = quit_question(in_flight, waiting, downloading, demo=self.session.profile.demo)
        if question is None:
            self.exit()
            return

        def answered(quit_now: bool | None) -> None:
            if quit_now:
                self.exit()

        if not isinstance(self.screen, ConfirmQuitScreen):
            self.push_screen(ConfirmQuitScreen(question), answered)

    def action_refresh(self) -> None:
        try:
            self.session.refresh()
        except ActionRefused as refused:
            self.notify(str(refused), severity="warning")
            return
        self._say_with_hold("Refreshing the account and the hosters", ". Links are ", timeout=2)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_pause":
            engine = self.session.engine
            paused = engine is not None and engine.paused
            return paused == (parameters == ("resume",))
        return True

    def action_toggle_pause(self, _shown_as: str = "pause") -> None:
        paused = self.session.toggle_pause()
        if paused is True:
            self._say_with_hold("Queue paused: press p to resume", ". Links are ", timeout=3)
        elif paused is False:
            self._say_with_hold("Queue resumed", ", but links are ", timeout=2)

    def _say_with_hold(self, text: str, then: str, *, timeout: float) -> None:
        """`text`, and when links are held, `then` until when and why: a key
        that seems to do nothing while the queue is held says why."""
        held = self.session.hold_clause()
        if held:
            self.notify(f"{text}{then}{held}", timeout=8, markup=False)
        else:
            self.notify(text, timeout=timeout)

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
            from tui.widgets.marking_table import MarkingTable

            bindings = [*DashboardScreen.BINDINGS, *MarkingTable.BINDINGS, *self.BINDINGS]
            rows = status_rows(self.settings.unlock)
            help_screen = HelpScreen(bindings, self.settings.keymap, self.get_key_display, rows)
            self.install_screen(help_screen, "help")
        self.push_screen("help")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        dashboard = self.dashboard
        # The dashboard's actions run in its namespace (whatever has focus, so all of
        # them are offered), the app's in the app's (Pause or Resume, as it applies).
        runners = (
            (self.check_action, partial(self.run_action, default_namespace=self), self.BINDINGS),
            (lambda *_: True, dashboard.run_from_palette, dashboard.BINDINGS),
        )
        # Quit is among Textual's own commands; Escape out of an input is none.
        not_offered = {"quit", "leave-input"}
        for applies, run, bindings in runners:
            for binding in bindings:
                if (
                    isinstance(binding, Binding)
                    and binding.id not in not_offered
                    and applies(*parse_action(binding.action)[1:]) is not False
                ):
                    yield SystemCommand(
                        binding.description, binding.tooltip, partial(run, binding.action)
                    )
