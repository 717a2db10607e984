"""The linkdeck App: builds the services, runs the polls, routes messages."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer

from tui.api import (
    ApiError,
    CaFileError,
    Credentials,
    HosterList,
    HosterMatcher,
    InsecureTransport,
    LoginFailed,
    UntrustedCertificate,
)
from tui.api.tls import ca_file_version
from tui.commands.common import Profile
from tui.disk_cache import load_account, load_hosters, save_account, save_hosters
from tui.messages import AccountFailed, AccountRefreshed, HostersFailed, HostersRefreshed
from tui.resources import styles_dir
from tui.safe_files import RefusedFile
from tui.screens.dashboard import DashboardScreen
from tui.settings import RefreshSettings, Settings, SettingsError, resolve_password
from tui.unlock.clock import Clock, SystemClock
from tui.unlock.engine import HeldElsewhere, UnlockEngine
from tui.unlock.history import (
    History,
    HistoryError,
    HistoryWriteError,
    open_or_start_anew,
    unreadable_sentence,
)
from tui.unlock.items import Event, Item, ItemRemoved, ItemState, QueueState
from tui.unlock.policy import UNTRUSTED_CERTIFICATE, holds_hoster, status_rows
from tui.widgets.account import Connection

if TYPE_CHECKING:
    import httpx

    from tui.api.client import ApiClient

FAIRUSE_SERIES_SECONDS = 7 * 86400
FAIRUSE_SAMPLE_SECONDS = 600.0
ACCOUNT_AFTER_UNLOCK_SECONDS = 5.0
UNEXPECTED_FAILURE_DELAY = 60.0
CA_FILE_CHECK_SECONDS = 5.0
"""While the CA file is the trouble, how often to look for a new version of it."""


@dataclass
class UnlockEvents(Message):
    """The unlock engine has events waiting in `LinkdeckApp._engine_events`: one such
    message at a time, so that a paste of 10,000 links is a few batches in the
    queue rather than 30,000 messages that every key press waits behind."""


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
    ) -> None:
        super().__init__()
        self.profile = profile
        self.settings: Settings = profile.settings
        self.clock: Clock = clock or SystemClock()
        self._http = http
        self._owns_http = http is None
        self._trust_read: tuple[str, object] | None = None
        """The CA file last read for the owned HTTP client, and the version of it."""
        self._ca_file_watch: Timer | None = None
        self.client: ApiClient | None = None
        self.history: History | None = None
        self.engine: UnlockEngine | None = None
        self.dashboard: DashboardScreen | None = None
        self.hosters = HosterList(())
        self.matcher = HosterMatcher(())
        self.account_poll = Poll(self, "account", self._refresh_account)
        self.hosters_poll = Poll(self, "hosters", self._refresh_hosters)
        self._unsubscribe = lambda: None
        self._engine_events: dict[int | str, Event] = {}
        self._history_cursor: int | None = None
        self._last_fairuse: tuple[float, float] | None = None
        self._unreadable_reported = 0
        if self.settings.keymap:
            self.set_keymap(dict(self.settings.keymap))

    # --- start and stop ---------------------------------------------------

    def get_default_screen(self) -> Screen:
        self.dashboard = DashboardScreen(self.clock.now)
        return self.dashboard

    async def on_mount(self) -> None:
        self.apply_ui_settings()
        # What the start built lives as long as the app: out of the collector's
        # sight, a full collection during a large paste takes 30 ms, not 100.
        self.call_after_refresh(gc.freeze)
        if self.profile.config_error:
            self.notify(
                f"{self.profile.config_error}. The file was left as it is; "
                "linkdeck runs on defaults until it is fixed.",
                title="Config file",
                severity="error",
                timeout=60,
                markup=False,
            )
        for warning in self.profile.warnings:
            self.notify(warning, title="Settings", severity="warning", timeout=15, markup=False)
        try:
            self.history, started_anew = await asyncio.to_thread(
                open_or_start_anew, self.profile.history_path
            )
        except (HistoryError, OSError) as error:
            self.notify(
                f"The unlock history cannot be opened: {error}",
                severity="error",
                timeout=30,
                markup=False,
            )
            return
        if started_anew:
            self.notify(
                started_anew, title="Unlock history", severity="error", timeout=60, markup=False
            )
        # The dashboard composes in its own task: on a busy machine the history
        # opens before its tables exist (NoMatches '#hoster-table').
        await self.query_dashboard()._mounted_event.wait()
        await self._show_cached_hosters()
        self._show_cached_account()
        self._show_history()
        if self.settings.is_usable():
            # After the first frame: what is cached shows before the network is touched.
            self.call_after_refresh(self.connect)
        else:
            from tui.screens.settings import SettingsScreen

            self.push_screen(
                SettingsScreen(self.settings, self.profile.config_path, first_run=True)
            )
            self.call_after_refresh(self._report_unreadable_rows)

    async def on_unmount(self) -> None:
        self._unsubscribe()
        if self.engine is not None:
            await self.engine.stop()
        if self.history is not None:
            self.history.close()
        if self._http is not None and self._owns_http:
            await self._http.aclose()

    def apply_ui_settings(self) -> None:
        theme = self.settings.ui.theme
        self.theme = theme if theme in self.available_themes else "textual-dark"

    async def connect(self) -> None:
        """(Re)build the client from the settings, start the engine and the polls."""
        assert self.history is not None
        api = self.settings.api
        try:
            pin = await asyncio.to_thread(resolve_password, api)
        except SettingsError as error:
            self._show_problem(Connection.LOGIN_FAILED, str(error))
            return
        credentials = Credentials(api.login, pin)
        try:
            http = await self._http_trusting()
        except CaFileError as error:
            self._show_problem(Connection.UNREACHABLE, str(error))
            self.notify(str(error), title="PIN not sent", severity="error", markup=False)
            self._watch_ca_file()  # connects again once the file is fixed
            return
        if self.client is None:
            # httpx costs a tenth of a second to import: not before the first frame.
            from tui.api.client import ApiClient

            self.client = ApiClient(
                api.url, credentials, http=http, allow_insecure_http=api.allow_insecure_http
            )
        else:
            self.client.url = api.url
            self.client.allow_insecure_http = api.allow_insecure_http
            self.client.use_http(http)
        # Read at every call: saved settings take effect on the next one.
        self.client.timeout = api.timeout
        self.client.proxy_plain_http = api.proxy_plain_http
        if self.engine is None:
            self.engine = UnlockEngine(
                self.client,
                self.history,
                self.settings.unlock,
                # No list yet (no cache, first refresh pending or failing): the
                # engine holds links until one comes, rather than calling them
                # unsupported.
                matcher=self.matcher if self.hosters.hosters else None,
                clock=self.clock,
            )
            self._unsubscribe = self.engine.subscribe(self._engine_event)
            # From where the log was read: what other processes did since shows up too.
            await self.engine.start(since=self._history_cursor)
            # After the restored items and the first rows on screen were read.
            self.call_after_refresh(self._report_unreadable_rows)
        else:
            self.engine.settings = self.settings.unlock
        self.engine.set_credentials(credentials)
        self.account_poll.now()
        self.hosters_poll.now()

    async def _http_trusting(self) -> httpx.AsyncClient:
        """The HTTP client, trusting the settings' CA file: a new one when another
        file is named or the file changed (CaFileError when it cannot be used).
        One given to the app is kept."""
        if self._http is not None and (not self._owns_http or not self._ca_file_changed()):
            return self._http
        from tui.api.http_client import make_http_client

        ca_file = self.settings.api.ca_file
        # Its version before it is read: a change while it is read is seen next time.
        self._trust_read = (ca_file, ca_file_version(ca_file))
        # Reading the CAs takes a few hundredths of a second: not on the event loop.
        http = await asyncio.to_thread(make_http_client, ca_file)
        old, self._http = self._http, http
        if old is not None:
            self.run_worker(_close_after(old, self.settings.api.timeout), group="retired-http")
        return http

    def _ca_file_changed(self) -> bool:
        ca_file = self.settings.api.ca_file
        return self._trust_read != (ca_file, ca_file_version(ca_file))

    def _watch_ca_file(self) -> None:
        """While the CA file cannot be used or does not make the server trusted,
        look for a new version of it (a renewal, a file put in place) and connect
        with it at once."""
        if self._owns_http and self.settings.api.ca_file and self._ca_file_watch is None:
            self._ca_file_watch = self.set_interval(
                CA_FILE_CHECK_SECONDS, self._check_ca_file, name="ca-file"
            )
        self._check_ca_file()

    def _check_ca_file(self) -> None:
        if self._ca_file_watch is None or not self._ca_file_changed():
            return
        if any(worker.group == "connect" and not worker.is_finished for worker in self.workers):
            return  # the connect under way reads the file
        self._stop_watching_ca_file()
        self.run_worker(self.connect, group="connect")

    def _stop_watching_ca_file(self) -> None:
        if self._ca_file_watch is not None:
            self._ca_file_watch.stop()
            self._ca_file_watch = None

    async def apply_settings(self, settings: Settings) -> None:
        """Settings were saved: use them at once."""
        self.settings = settings
        self.apply_ui_settings()
        if settings.keymap:
            self.set_keymap(dict(settings.keymap))
        if self.is_screen_installed("help"):
            self.uninstall_screen("help")  # it shows the keys as they were bound
        if settings.is_usable():
            await self.connect()

    # --- polls ------------------------------------------------------------

    async def _refresh_account(self) -> float:
        """One account refresh; returns the seconds until the next one."""
        assert self.client is not None
        self.query_dashboard().account.connection = Connection.REFRESHING
        cache = self._cache("account")  # of the account asked, whatever is saved meanwhile
        try:
            account = await self.client.account_status()
        except (ApiError, InsecureTransport) as error:
            delay = self.account_poll.backoff(self.settings.refresh)
            now = self.clock.now()
            self.post_message(AccountFailed(error, now, retry_at=now + delay))
            return delay
        at = self.clock.now()
        await asyncio.to_thread(save_account, cache, account, at)
        self.post_message(AccountRefreshed(account, at))
        return self.account_poll.succeeded(self.settings.refresh.account_interval)

    async def _refresh_hosters(self) -> float:
        assert self.client is not None
        cache = self._cache("hosters")
        try:
            hosters = await self.client.hoster_list()
        except (ApiError, InsecureTransport) as error:
            self.post_message(HostersFailed(error, self.clock.now()))
            return self.hosters_poll.backoff(self.settings.refresh)
        at = self.clock.now()
        await asyncio.to_thread(save_hosters, cache, hosters, at)
        # Compiling the patterns takes seconds for a list of thousands of hosters
        # (13 s for 50,000): off the UI thread, so the dashboard never freezes.
        matcher = await asyncio.to_thread(HosterMatcher, hosters.hosters)
        self.post_message(HostersRefreshed(hosters, at, matcher=matcher))
        return self.hosters_poll.succeeded(self.settings.refresh.hosters_interval)

    def on_account_refreshed(self, message: AccountRefreshed) -> None:
        self._stop_watching_ca_file()
        if self.engine is not None and self.engine.pause_reason == UNTRUSTED_CERTIFICATE:
            self.engine.resume()  # the same client was just trusted
        dashboard = self.query_dashboard()
        dashboard.show_account(message.account, message.at, self.settings.warnings)
        value = message.account.fairuse_left
        if self.history is not None and self._fairuse_sample_due(message.at, value):
            with suppress(HistoryWriteError):  # one sample fewer in the trend
                self.history.record_fairuse(message.at, value)
            dashboard.account.set_fairuse_history(self._fairuse_values())

    def _fairuse_sample_due(self, at: float, value: float) -> bool:
        """A fair-use sample when the value changed, else one per 10 minutes: a
        sample per refresh stored 10,080 equal rows a week and reloaded them all
        at every refresh."""
        last = self._last_fairuse
        if last is not None and last[1] == value and at - last[0] < FAIRUSE_SAMPLE_SECONDS:
            return False
        self._last_fairuse = (at, value)
        return True

    def on_account_failed(self, message: AccountFailed) -> None:
        error = message.error
        if isinstance(error, UntrustedCertificate):
            self._watch_ca_file()
        if isinstance(error, LoginFailed):
            self._show_problem(Connection.LOGIN_FAILED, "login failed")
            return
        pin_not_sent = isinstance(error, InsecureTransport | UntrustedCertificate)
        if pin_not_sent and self.account_poll.failures == 1:
            # The panel's line is too short for the reason: say it in full, once.
            self.notify(
                str(error), title="PIN not sent", severity="error", timeout=30, markup=False
            )
        has_data = self.query_dashboard().account.account is not None
        state = Connection.STALE if has_data else Connection.UNREACHABLE
        self._show_problem(state, str(error), message.retry_at)

    def on_hosters_refreshed(self, message: HostersRefreshed) -> None:
        self._use_hosters(message.hosters, message.matcher)

    def on_hosters_failed(self, message: HostersFailed) -> None:
        if isinstance(message.error, UntrustedCertificate):
            self._watch_ca_file()
        self.query_dashboard().hosters.set_problem(str(message.error))

    def _show_problem(self, state: Connection, text: str, retry_at: float | None = None) -> None:
        account = self.query_dashboard().account
        account.problem = text
        account.next_retry = retry_at
        account.connection = state

    # --- data on start ----------------------------------------------------

    async def _show_cached_hosters(self) -> None:
        try:
            cached = await asyncio.to_thread(load_hosters, self._cache("hosters"))
        except RefusedFile as refused:
            self._notify_refused_cache(refused)
            return
        if cached is not None:
            # Off the UI thread for the same reason as after a refresh.
            matcher = await asyncio.to_thread(HosterMatcher, cached[0].hosters)
            self._use_hosters(cached[0], matcher)

    def _cache(self, kind: str) -> Path:
        """The cache file of `kind` for the account the settings name now."""
        return self.profile.cache_path(kind, self.settings.api)

    def _show_cached_account(self) -> None:
        """The last account seen, marked stale until the first refresh answers."""
        try:
            cached = load_account(self._cache("account"))
        except RefusedFile as refused:
            self._notify_refused_cache(refused)
            return
        if cached is None:
            return
        account, at = cached
        panel = self.query_dashboard().account
        panel.account = account
        panel.last_ok = at
        panel.connection = Connection.STALE

    def _report_unreadable_rows(self) -> None:
        count = len(self.history.unreadable_ids) if self.history is not None else 0
        if count > self._unreadable_reported:
            self._unreadable_reported = count
            self.notify(
                f"{unreadable_sentence(count)}: they are left as they are, and shown as "
                "unreadable in the log",
                title="Unlock history",
                severity="warning",
                timeout=20,
                markup=False,
            )

    def _notify_refused_cache(self, refused: RefusedFile) -> None:
        self.notify(
            f"{refused}. It is not read nor written.",
            title="Cache",
            severity="warning",
            timeout=15,
            markup=False,
        )

    def _use_hosters(self, hosters: HosterList, matcher: HosterMatcher) -> None:
        self.hosters, self.matcher = hosters, matcher
        if self.engine is not None:
            self.engine.set_matcher(self.matcher)
        dashboard = self.query_dashboard()
        dashboard.hosters.set_hosters(hosters, self.matcher)
        if self.history is not None:
            dashboard.hosters.set_outcomes(self.history.hoster_outcomes())
        # A list of 50,000 hosters, its patterns and its rows live until the next
        # list: out of the collector's sight too (a full collection took 250 ms).
        self.call_after_refresh(gc.freeze)

    def _show_history(self) -> None:
        assert self.history is not None
        dashboard = self.query_dashboard()
        self._history_cursor = self.history.change_cursor()
        dashboard.unlock.load_history(self.history)
        dashboard.account.set_fairuse_history(self._fairuse_values())

    def _fairuse_values(self) -> list[float]:
        assert self.history is not None
        since = self.clock.now() - FAIRUSE_SERIES_SECONDS
        return [value for _, value in self.history.fairuse_series(since)]

    # --- unlock events ----------------------------------------------------

    def _engine_event(self, event: Event) -> None:
        """Keep the engine's latest event per item until the UI's turn."""
        if not self._engine_events:
            self.post_message(UnlockEvents())
        key = event.id if isinstance(event, Item | ItemRemoved) else type(event).__name__
        self._engine_events.pop(key, None)  # the newest goes last, as it came
        self._engine_events[key] = event

    def on_unlock_events(self, _: UnlockEvents) -> None:
        events, self._engine_events = self._engine_events, {}
        dashboard = self.query_dashboard()
        outcomes_changed = False
        for event in events.values():
            dashboard.on_engine_event(event)
            if isinstance(event, QueueState) and event.pause_reason == UNTRUSTED_CERTIFICATE:
                self._watch_ca_file()  # an unlock met the certificate before a poll did
            if isinstance(event, Item) and event.state is ItemState.DONE and not event.reused:
                # An unlock spends fair use: show it soon rather than at the next poll.
                self.account_poll.within(ACCOUNT_AFTER_UNLOCK_SECONDS)
            if isinstance(event, Item) and (
                event.state is ItemState.DONE or holds_hoster(event.status)
            ):
                outcomes_changed = True  # only these change a hoster's status column
        if outcomes_changed and self.history is not None:
            dashboard.hosters.set_outcomes(self.history.hoster_outcomes())

    # --- actions ----------------------------------------------------------

    def query_dashboard(self) -> DashboardScreen:
        assert self.dashboard is not None
        return self.dashboard

    def item_action(self, action: str, item_id: int) -> None:
        """Retry, cancel, force or remove an item of the log (of this session or
        an earlier one: the engine takes those back from the history)."""
        if self.engine is None:
            self.notify("Not connected: open the settings (s)", severity="warning")
            return
        try:
            getattr(self.engine, action)(item_id)
        except HeldElsewhere:
            self.notify("This item is in the queue of another linkdeck process", severity="warning")
        except HistoryWriteError as error:
            self.notify(
                f"Not done: the history cannot be written ({error.reason})",
                severity="error",
                markup=False,
            )
        except KeyError:
            self.notify("This item is no longer in the history", severity="warning")

    def action_refresh(self) -> None:
        if self.client is None:
            self.notify("Not connected: open the settings (s)", severity="warning")
            return
        self.account_poll.now()
        self.hosters_poll.now()
        self.notify("Refreshing the account and the hosters", timeout=2)

    def action_toggle_pause(self) -> None:
        if self.engine is None:
            return
        if self.engine.paused:
            self.engine.resume()
            self.notify("Queue resumed", timeout=2)
        else:
            self.engine.pause()
            self.notify("Queue paused: press p to resume", timeout=3)

    def action_settings(self) -> None:
        from tui.screens.settings import SettingsScreen

        self.push_screen(SettingsScreen(self.settings, self.profile.config_path))

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
        dashboard = self.query_dashboard()
        # The dashboard's actions run in its namespace, the app's in the app's.
        for namespace, bindings in ((self, self.BINDINGS), (dashboard, dashboard.BINDINGS)):
            for binding in bindings:
                if isinstance(binding, Binding) and binding.id not in ("quit", "leave-input"):
                    yield SystemCommand(
                        binding.description,
                        binding.tooltip,
                        partial(self.run_action, binding.action, namespace),
                    )


class Poll:
    """A refresh that re-arms itself with a one-shot timer once it has ended,
    so polls never overlap and back off naturally while the service is away."""

    def __init__(self, app: LinkdeckApp, name: str, body: Callable[[], Awaitable[float]]) -> None:
        self.app, self.name, self.body = app, name, body
        self.failures = 0
        self.timer: Timer | None = None
        self.next_at: float | None = None

    def now(self) -> None:
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
        self.app.run_worker(self._run(), group=self.name, exclusive=True, exit_on_error=False)

    def within(self, seconds: float) -> None:
        """Make the next poll happen no later than `seconds` from now."""
        if self.timer is None or self.next_at is None:
            return
        if self.next_at - self.app.clock.monotonic() > seconds:
            self.timer.stop()
            self.next_at = self.app.clock.monotonic() + seconds
            self.timer = self.app.set_timer(seconds, self.now, name=f"{self.name}-poll")

    async def _run(self) -> None:
        try:
            delay = await self.body()
        except asyncio.CancelledError:
            raise  # `now()` replaced this run; the new one arms the timer
        except Exception:
            # A refresh that raised something unexpected must not end the
            # dashboard's refreshes; the worker still reports the error.
            self._arm(UNEXPECTED_FAILURE_DELAY)
            raise
        self._arm(delay)

    def _arm(self, delay: float) -> None:
        self.next_at = self.app.clock.monotonic() + delay
        self.timer = self.app.set_timer(delay, self.now, name=f"{self.name}-poll")

    def succeeded(self, interval: float) -> float:
        self.failures = 0
        return interval

    def backoff(self, refresh: RefreshSettings) -> float:
        """15 s, 30 s, 60 s… up to the configured ceiling."""
        self.failures += 1
        return min(15.0 * 2 ** (self.failures - 1), refresh.max_backoff)


async def _close_after(http: httpx.AsyncClient, seconds: float) -> None:
    """Close a replaced HTTP client once the calls it carries have ended: each
    ends within the API timeout."""
    try:
        await asyncio.sleep(seconds)
    finally:
        await http.aclose()
