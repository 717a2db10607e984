"""The session: one linkdeck run's hold on the service, under every front end.

It owns the client, the unlock history and engine, the hoster list and its
matcher, the caches on disk, the polls and the fair-use series, and tells what
happens through one stream of typed events (`tui.core.events`). The dashboard
shows that stream and calls the operations below; `linkdeck unlock` runs on the
same session. No Textual here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from textwrap import shorten
from typing import TYPE_CHECKING

from tui.api import (
    ApiError,
    CaFileError,
    ConnectionSettings,
    Credentials,
    DirectLink,
    HosterList,
    HosterMatcher,
    InsecureTransport,
    LoginFailed,
    UntrustedCertificate,
)
from tui.core.account_watch import AccountWatch
from tui.core.acted import ActedOn
from tui.core.batch import Batch, BatchEnded, BatchProgress
from tui.core.download_queue import (
    DownloadAction,
    Downloads,
    EnginesOnFirstUse,
    action_to_get,
)
from tui.core.events import (
    Connection,
    Event,
    HistoryOpened,
    HosterOutcomes,
    HostersChanged,
    HostersFailed,
    Notice,
    SettingsNeeded,
)
from tui.core.exports import ExportResult, export_history
from tui.core.item_store import ItemStore
from tui.core.polls import UNEXPECTED_FAILURE_DELAY, Poll
from tui.core.profile import Profile, client_for
from tui.core.trust import TrustedHttp
from tui.disk_cache import CachedStart, account_key, read_cache, save_account, save_hosters
from tui.download.job import Download
from tui.formatting import local_clock
from tui.safe_files import RefusedFile
from tui.settings import Settings, SettingsError, resolve_password
from tui.unlock.clock import Clock, SystemClock
from tui.unlock.items import UNFINISHED, Item, ItemRemoved, ItemState, QueueState
from tui.unlock.policy import UNTRUSTED_CERTIFICATE, holds_hoster

if TYPE_CHECKING:
    import httpx

    from tui.api.client import ApiClient
    from tui.core.download_queue import Engine
    from tui.core.log_file import LogFile
    from tui.unlock.engine import Queued, UnlockEngine
    from tui.unlock.history import History

log = logging.getLogger("tui.core")

ACCOUNT_AFTER_UNLOCK_SECONDS = 5.0
NOT_CONNECTED = "Not connected: open the settings (s)"


class ItemAction(StrEnum):
    """What the user can do to one item of the log."""

    RETRY = "retry"
    CANCEL = "cancel"
    FORCE = "force"
    REMOVE = "remove"


def why_not(item: Item, action: ItemAction) -> str | None:
    """Why `action` does not apply to `item` in its state; None when it does."""
    from tui.unlock.engine import CANCELLABLE, RETRYABLE

    state = item.state
    if action is ItemAction.RETRY and state not in RETRYABLE:
        if state is ItemState.UNSUPPORTED:
            return "No hoster serves this link: open it (Enter) and force it (f)"
        if state is ItemState.HELD:
            return "This item is held: it is sent when the hold ends"
        if state in (ItemState.PENDING, ItemState.UNLOCKING):
            return f"Nothing to retry: this item is {state.value}"
        return "Nothing to retry: this item is done"
    if action is ItemAction.CANCEL and state not in CANCELLABLE:
        return f"Nothing to cancel: this item is {state.value} already"
    if action is ItemAction.FORCE and state is not ItemState.UNSUPPORTED:
        return "Only a link no hoster serves needs forcing"
    return None


def why_no_link(item: Item) -> str:
    """Why `item` has no direct link to copy: it ended without one, or not yet."""
    if item.state is ItemState.FAILED:
        return "No direct link: this item failed"
    if item.state is ItemState.CANCELLED:
        return "No direct link: this item was cancelled"
    if item.state is ItemState.UNSUPPORTED:
        return "No direct link: no hoster serves this link"
    return f"No direct link yet: this item is {item.state.value}"


GONE = "no longer in the history"
DOWNLOADING = "downloading its file"
ELSEWHERE = "in the queue of another linkdeck process"
PAST_TENSE = {
    ItemAction.RETRY: "Retried",
    ItemAction.CANCEL: "Cancelled",
    ItemAction.FORCE: "Forced",
    ItemAction.REMOVE: "Removed",
}


class ActionRefused(Exception):
    """An operation that could not be done; str() is the sentence for the user."""

    def __init__(self, sentence: str, severity: str = "warning", reason: str = "") -> None:
        super().__init__(sentence)
        self.severity = severity
        self.reason = reason
        """Why, in the words of `ActedOn.left`, when it is one of those."""


class Session:
    """One run's session. Build it with `Session(profile)` (tests inject a clock
    and an `httpx.AsyncClient`), `subscribe` to its events, then `open()` it (the
    dashboard, which may `read_cache()` before, for its first frame) or
    `start_command()` it (a command), and `close()` it at the end.

    Use from one event loop."""

    def __init__(
        self,
        profile: Profile,
        *,
        clock: Clock | None = None,
        http: httpx.AsyncClient | None = None,
        log_file: LogFile | None = None,
    ) -> None:
        self.profile = profile
        self.settings: Settings = profile.settings
        self.clock: Clock = clock or SystemClock()
        self.log_file = log_file
        self.client: ApiClient | None = None
        self.history: History | None = None
        self.engine: UnlockEngine | None = None
        self.hosters = HosterList(())
        self.matcher = HosterMatcher(())
        """The hoster list in use and its matcher (empty until one is built)."""
        self.cached_hosters: HosterList | None = None
        """The hoster list of the cache, shown before its matcher is built."""
        self._cached: CachedStart | None = None
        self.store = ItemStore()
        self.batch = Batch()
        self.account = AccountWatch(self.clock, self._emit)
        self.account_poll = Poll(
            "account", self._refresh_account, self.clock, self.report_unexpected
        )
        self.hosters_poll = Poll(
            "hosters", self._refresh_hosters, self.clock, self.report_unexpected
        )
        self.trust = TrustedHttp(http, self._spawn, self._ca_file_changed)
        self._connecting: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[object]] = set()
        self._subscribers: list[Callable[[Event], None]] = []
        self._unsubscribe_engine: Callable[[], None] = lambda: None
        self._history_cursor: int | None = None
        self._unreadable_reported = 0
        self._outcomes_due = False
        self._command_client = False
        self._closed = False
        self._exports: set[asyncio.Future[ExportResult]] = set()
        self.downloads: Downloads | None = None
        self._downloads_restored = False
        self._download_http: httpx.AsyncClient | None = None

    # --- the stream ---------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call `callback` with every event; returns the function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def _emit(self, event: Event) -> None:
        for callback in list(self._subscribers):
            callback(event)

    def _notice(self, text: str, **kwargs: object) -> None:
        self._emit(Notice(text, **kwargs))  # type: ignore[arg-type]

    def report_unexpected(self, what: str, error: Exception) -> None:
        """A task that raised what nobody expected: the user sees one sentence, the
        log file the whole record."""
        log.error("the %s task failed", what, exc_info=error)
        where = f"; the details are in {self.log_path_text()}" if self.log_file else ""
        reason = shorten(f"{type(error).__name__}: {error}", 200, placeholder="…")
        self._notice(
            f"Something went wrong in the {what} task ({reason}){where}",
            title="Unexpected error",
            severity="error",
            timeout=20,
        )

    def log_path_text(self) -> str:
        if self.log_file is None:
            return "no log file"
        return str(self.log_file.path)

    def _spawn(self, coroutine: object, what: str) -> None:
        """Run `coroutine` beside the session; a failure is reported, never lost."""
        if self._closed:
            coroutine.close()  # type: ignore[attr-defined]
            return
        task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
        self._background.add(task)

        def done(finished: asyncio.Future[object]) -> None:
            self._background.discard(task)
            if not finished.cancelled() and finished.exception() is not None:
                error = finished.exception()
                assert isinstance(error, Exception)
                self.report_unexpected(what, error)

        task.add_done_callback(done)

    # --- start and stop (the dashboard) -------------------------------------

    def read_cache(self) -> None:
        """Read what a first frame shows, at once (two small files): the last
        account seen, on `account.view` (stale until the first refresh), and the
        last hoster list, as `cached_hosters`. Its matcher, the history and the
        network come with `open()`, which reads the cache itself if nobody did."""
        if self._cached is None:
            self._use_cache(read_cache(self._cache("hosters"), self._cache("account")))

    def _use_cache(self, cached: CachedStart) -> None:
        self._cached = cached
        if isinstance(cached.hosters, HosterList):
            self.cached_hosters = cached.hosters
        if isinstance(cached.account, tuple):
            self.account.cached(*cached.account)

    async def open(self) -> None:
        """Open the history and put the cached hoster list in use (its matcher
        built off the event loop); then connect, or ask for settings."""
        from tui.unlock.history import HistoryError, open_or_start_anew

        if self._cached is None:
            paths = self._cache("hosters"), self._cache("account")
            self._use_cache(await asyncio.to_thread(read_cache, *paths))
        cached = self._cached
        assert cached is not None
        if self.profile.config_error:
            self._notice(
                f"{self.profile.config_error}. The file was left as it is; "
                "linkdeck runs on defaults until it is fixed.",
                title="Config file",
                severity="error",
                timeout=60,
            )
        for warning in self.profile.warnings:
            self._notice(warning, title="Settings", severity="warning", timeout=15)
        if self.log_file is not None and self.log_file.problem:
            self._notice(self.log_file.problem, title="Log file", severity="warning", timeout=15)
        try:
            history, started_anew = await asyncio.to_thread(
                open_or_start_anew, self.profile.history_path
            )
        except (HistoryError, OSError) as error:
            self._notice(
                f"The unlock history cannot be opened: {error}", severity="error", timeout=30
            )
            return
        if self._closed:  # closed meanwhile (the dashboard quit at once)
            history.close()
            return
        self.history = history
        if started_anew:
            self._notice(started_anew, title="Unlock history", severity="error", timeout=60)
        await self._show_cached_hosters(cached)
        if self._closed:
            return
        if isinstance(cached.account, RefusedFile):
            self._notice_refused_cache(cached.account)
        self._history_cursor = self.history.change_cursor()
        self.store.use(self.history)
        self._emit(HistoryOpened())
        self._open_downloads()
        self.account.use_account(self._account_key(), self.history)
        if not self.settings.is_usable():
            self._emit(SettingsNeeded())

    def can_connect(self) -> bool:
        return self.settings.is_usable() and self.history is not None

    def _connect_soon(self) -> None:
        if self._closed or self._command_client:
            return  # a command does not reconnect: it reports and ends
        if self._connecting is not None and not self._connecting.done():
            return  # the connect under way reads the settings and the CA file
        self._connecting = asyncio.create_task(self.connect(), name="connect")
        self._spawn(self._connecting, "connect")

    # --- start and stop (a command) -------------------------------------------

    async def start_command(self, *, retry_temporary: bool = True) -> UnlockEngine:
        """Start for a command: what cannot be used raises (SettingsError,
        InsecureTransport, an ApiError from the hoster list, which checks the
        login too, HistoryError). The engine sends and follows only the links
        queued here: the dashboard's own queue is its business."""
        from tui.unlock.engine import UnlockEngine
        from tui.unlock.history import History

        self.client = client_for(self.settings)
        self._command_client = True
        if self.log_file is not None:
            self.log_file.add_secret(self.client.credentials.password)
        hosters = await self.client.hoster_list()
        self.hosters, self.matcher = hosters, HosterMatcher(hosters.hosters)
        self.history = History(self.profile.history_path)
        self.store.use(self.history)
        self._open_downloads()
        self.engine = UnlockEngine(
            self.client,
            self.history,
            self.settings.unlock,
            matcher=self.matcher,
            clock=self.clock,
            retry_temporary=retry_temporary,
        )
        self._unsubscribe_engine = self.engine.subscribe(self._engine_event)
        await self.engine.start(restore=False)
        return self.engine

    async def close(self) -> None:
        """End every task of the session, then the engine, the history and the
        connections. Nothing new starts once it has begun."""
        self._closed = True
        self._unsubscribe_engine()
        self.account_poll.close()
        self.hosters_poll.close()
        self.trust.stop_watching()
        tasks = [task for task in self._background if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # An export runs in a thread, which cannot be cancelled: it ends first,
        # whole, before the history it reads is closed.
        await asyncio.gather(*self._exports, return_exceptions=True)
        if self.downloads is not None:
            await self.downloads.close()
        if self._download_http is not None:
            await self._download_http.aclose()
        if self.engine is not None:
            await self.engine.stop()
        if self.history is not None:
            self.history.close()
        await self.trust.close()
        if self._command_client and self.client is not None:
            await self.client.aclose()

    async def connect(self) -> None:
        """(Re)build the client from the settings, start the engine and the polls."""
        assert self.history is not None
        self.restore_downloads()
        api = self.settings.api
        try:
            pin = await asyncio.to_thread(resolve_password, api)
        except SettingsError as error:
            self.account.problem(Connection.LOGIN_FAILED, str(error))
            return
        credentials = Credentials(api.login, pin)
        if self.log_file is not None:
            self.log_file.add_secret(credentials.password)
        try:
            http = await self.trust.client(api.ca_file, retire_after=api.timeout)
        except CaFileError as error:
            self.account.problem(Connection.UNREACHABLE, str(error))
            self._notice(str(error), title="PIN not sent", severity="error")
            self._watch_ca_file()  # connects again once the file is fixed
            return
        # The hold a used-up fair use brought is that account's, not the next one's.
        account = (api.url, credentials)
        account_changed = self.client is not None and (
            (self.client.url, self.client.credentials) != account
        )
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
            from tui.unlock.engine import UnlockEngine

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
            self._unsubscribe_engine = self.engine.subscribe(self._engine_event)
            # From where the log was read: what other processes did since shows up too.
            await self.engine.start(since=self._history_cursor)
            self.report_unreadable_rows()
        else:
            self.engine.settings = self.settings.unlock
        self.engine.set_credentials(credentials)
        if account_changed:
            self.engine.end_account_hold()
        self.account.use_account(self._account_key(), self.history)
        self.account_poll.now()
        self.hosters_poll.now()

    async def apply(self, settings: Settings) -> None:
        """Settings were saved: use them at once, timeouts and delays included."""
        self.settings = settings
        if self.downloads is not None:
            self.downloads.use_settings(settings, self.download_folder())
        if self.can_connect():
            await self.connect()

    def _ca_file_changed(self) -> None:
        """The watched CA file has a new version: connect with it."""
        if self._connecting is not None and not self._connecting.done():
            return  # the connect under way reads the file
        self.trust.stop_watching()
        self._connect_soon()

    def _watch_ca_file(self) -> None:
        if self._closed or self._command_client:
            return
        self.trust.watch(self.settings.api.ca_file)

    # --- polls --------------------------------------------------------------

    def refresh(self) -> None:
        """Refresh the account and the hosters now (ActionRefused when not connected)."""
        if self.client is None:
            raise ActionRefused(NOT_CONNECTED)
        self.account_poll.now()
        self.hosters_poll.now()

    async def _refresh_account(self) -> float:
        """One account refresh; returns the seconds until the next one."""
        assert self.client is not None
        self.account.refreshing()
        # Of the account asked, whatever is saved meanwhile.
        cache, account_key = self._cache("account"), self._account_key()
        try:
            account = await self.client.account_status()
        except (ApiError, InsecureTransport) as error:
            delay = self.account_poll.backoff(self.settings.refresh.max_backoff)
            self._account_failed(error, retry_at=self.clock.now() + delay)
            return delay
        except Exception as error:
            # Not "refreshing…" for ever: the poll reports it and tries again later.
            retry_at = self.clock.now() + UNEXPECTED_FAILURE_DELAY
            self.account.failed(f"unexpected {type(error).__name__}, see the log", retry_at)
            raise
        at = self.clock.now()
        await asyncio.to_thread(save_account, cache, account, at)
        self.trust.stop_watching()
        if self.engine is not None and self.engine.pause_reason == UNTRUSTED_CERTIFICATE:
            self.engine.resume()  # the same client was just trusted
        self.account.refreshed(account, at, self.settings.warnings, self.history, account_key)
        return self.account_poll.succeeded(self.settings.refresh.account_interval)

    def _account_failed(self, error: ApiError | InsecureTransport, retry_at: float) -> None:
        if isinstance(error, UntrustedCertificate):
            self._watch_ca_file()
        if isinstance(error, LoginFailed):
            self.account.problem(Connection.LOGIN_FAILED, "login failed")
            return
        pin_not_sent = isinstance(error, InsecureTransport | UntrustedCertificate)
        if pin_not_sent and self.account_poll.failures == 1:
            # The panel's line is too short for the reason: say it in full, once.
            self._notice(str(error), title="PIN not sent", severity="error", timeout=30)
        self.account.failed(str(error), retry_at)

    async def _refresh_hosters(self) -> float:
        assert self.client is not None
        cache = self._cache("hosters")
        try:
            hosters = await self.client.hoster_list()
        except (ApiError, InsecureTransport) as error:
            if isinstance(error, UntrustedCertificate):
                self._watch_ca_file()
            self._emit(HostersFailed(str(error)))
            return self.hosters_poll.backoff(self.settings.refresh.max_backoff)
        at = self.clock.now()
        await asyncio.to_thread(save_hosters, cache, hosters, at)
        # Compiling the patterns takes seconds for a list of thousands of hosters
        # (13 s for 50,000): off the event loop, so the dashboard never freezes.
        matcher = await asyncio.to_thread(HosterMatcher, hosters.hosters)
        self._use_hosters(hosters, matcher)
        return self.hosters_poll.succeeded(self.settings.refresh.hosters_interval)

    # --- data on start --------------------------------------------------------

    async def _show_cached_hosters(self, cached: CachedStart) -> None:
        """The cached list in use, once its matcher is built."""
        if isinstance(cached.hosters, RefusedFile):
            self._notice_refused_cache(cached.hosters)
        elif cached.hosters is not None:
            # Off the event loop for the same reason as after a refresh.
            matcher = await asyncio.to_thread(HosterMatcher, cached.hosters.hosters)
            self._use_hosters(cached.hosters, matcher)

    def _account_key(self) -> str:
        """The account the settings name now, for what is kept per account."""
        return account_key(self.settings.api.url, self.settings.api.login)

    def _cache(self, kind: str) -> Path:
        """The cache file of `kind` for the account the settings name now."""
        return self.profile.cache_path(kind, self.settings.api)

    def report_unreadable_rows(self) -> None:
        from tui.unlock.history import unreadable_sentence

        count = len(self.history.unreadable_ids) if self.history is not None else 0
        if count > self._unreadable_reported:
            self._unreadable_reported = count
            self._notice(
                f"{unreadable_sentence(count)}: they are left as they are, and shown as "
                "unreadable in the log",
                title="Unlock history",
                severity="warning",
                timeout=20,
            )

    def _notice_refused_cache(self, refused: RefusedFile) -> None:
        self._notice(
            f"{refused}. It is not read nor written.", title="Cache", severity="warning", timeout=15
        )

    def _use_hosters(self, hosters: HosterList, matcher: HosterMatcher) -> None:
        self.hosters, self.matcher = hosters, matcher
        if self.engine is not None:
            self.engine.set_matcher(self.matcher)
        self._emit(HostersChanged(hosters, matcher))
        if self.history is not None:
            self._emit(HosterOutcomes(self.history.hoster_outcomes()))

    # --- unlock events ----------------------------------------------------

    def _engine_event(self, event: Item | ItemRemoved | QueueState) -> None:
        self.store.seen(event)
        if isinstance(event, ItemRemoved) and self.downloads is not None:
            self.downloads.forget(event.id)
        self._emit(event)
        if not isinstance(event, QueueState):
            self._follow_batch(event)
        if isinstance(event, QueueState) and event.pause_reason == UNTRUSTED_CERTIFICATE:
            self._watch_ca_file()  # an unlock met the certificate before a poll did
        if isinstance(event, Item):
            if event.state is ItemState.DONE and self.settings.download.auto:
                self._download_at_once(event)
            if event.state is ItemState.DONE and not event.reused:
                # An unlock spends fair use: show it soon rather than at the next poll.
                self.account_poll.within(ACCOUNT_AFTER_UNLOCK_SECONDS)
            changes_hoster = event.state is ItemState.DONE or holds_hoster(event.status)
            if changes_hoster and not self._outcomes_due:
                # Once for every answer of this turn of the loop: 10,000 links
                # ending at once would read the table 10,000 times.
                self._outcomes_due = True
                asyncio.get_running_loop().call_soon(self._show_outcomes)

    def _follow_batch(self, event: Item | ItemRemoved) -> None:
        ours = isinstance(event, Item) and not self.store.held_elsewhere(event)
        self._batch_changed(self.batch.seen(event, ours=ours))

    def _batch_changed(self, progress: BatchProgress | None) -> None:
        if progress is not None:
            self._emit(progress)
            if progress.finished:
                self._emit(BatchEnded(progress))

    def _show_outcomes(self) -> None:
        self._outcomes_due = False
        if self.history is not None and not self._closed:
            self._emit(HosterOutcomes(self.history.hoster_outcomes()))

    # --- operations ---------------------------------------------------------

    async def queue(self, text: str) -> Queued:
        """Queue the links in `text` (ActionRefused when not connected yet)."""
        if self.engine is None:
            raise ActionRefused("Not connected yet: check the settings (s)")
        queued = await self.engine.queue(text)
        # The others joined the batch when the engine told of them, unfinished.
        ended_at_once = [item for item in queued.added if item.state not in UNFINISHED]
        self._batch_changed(self.batch.join(ended_at_once))
        return queued

    def hold_clause(self, item: Item | None = None) -> str | None:
        """Why links wait now, as "held until 08:10, as why" (of `item` if given: its
        hoster's hold first), for the keys that would otherwise seem to do nothing;
        None when nothing is held."""
        if self.engine is None:
            return None
        state, now = self.engine.queue_state, self.clock.now()
        if item is not None and item.hoster:
            until = state.hoster_holds.get(item.hoster)
            if until is not None and until > now:
                return f"held until {local_clock(until)}, as {item.hoster} is unavailable"
        until = state.global_hold_until
        if until is not None and until > now:
            return (
                f"held until {local_clock(until)}, as this account's fair use is used up; "
                "another account (s) ends the hold"
            )
        if item is not None and item.state is ItemState.HELD:
            return f"held, {item.message}"  # waiting for the hoster list
        return None

    def act(self, item_id: int, action: ItemAction) -> str | None:
        """Retry, cancel, force or remove an item of the log (of this session or
        an earlier one: the engine takes those back from the history).
        Raises ActionRefused, saying why, when it cannot be done; returns what
        the user should know when a retry does not send the item now."""
        if self.engine is None:
            raise ActionRefused(NOT_CONNECTED)
        item = self.item(item_id)
        refusal = None if item is None else why_not(item, action)
        if (
            action is ItemAction.REMOVE
            and self.downloads is not None
            and self.downloads.busy(item_id)
        ):
            raise ActionRefused(
                "This item's file is downloading: cancel the download first (X)",
                reason=DOWNLOADING,
            )
        if refusal is not None:
            held = self.hold_clause(item) if item and item.state is ItemState.HELD else None
            raise ActionRefused(f"This link is {held}" if held else refusal)
        from tui.unlock.engine import HeldElsewhere
        from tui.unlock.history import HistoryWriteError

        try:
            item = getattr(self.engine, action.value)(item_id)
        except HeldElsewhere:
            raise ActionRefused(f"This item is {ELSEWHERE}", reason=ELSEWHERE) from None
        except HistoryWriteError as error:
            raise ActionRefused(
                f"Not done: the history cannot be written ({error.reason})", "error"
            ) from None
        except KeyError:
            raise ActionRefused(f"This item is {GONE}", reason=GONE) from None
        return self._retry_note(item) if action is ItemAction.RETRY else None

    def _retry_note(self, item: Item) -> str | None:
        """A retried link that a hold keeps from going now says so."""
        held = self.hold_clause(item) if item.state is ItemState.HELD else None
        return f"This link is {held}" if held else None

    def act_on_all(self, item_ids: Iterable[int], action: ItemAction) -> ActedOn:
        """`act` on each item; an item its state or another process keeps from
        it is counted with the reason rather than raised. ActionRefused when
        there is no queue, or the history cannot be written."""
        acted = ActedOn(PAST_TENSE[action])
        for item_id in item_ids:
            item = self.item(item_id)
            if item is None:
                acted.left[GONE] += 1
            elif self.store.held_elsewhere(item):
                acted.left[ELSEWHERE] += 1
            elif why_not(item, action) is not None:
                acted.left[f"{item.state.value} already"] += 1
            else:
                try:
                    self.act(item_id, action)
                except ActionRefused as refused:
                    if refused.severity == "error":
                        raise
                    acted.left[refused.reason or GONE] += 1
                else:
                    acted.acted += 1
        return acted

    def retry_failed(self) -> ActedOn:
        """Retry every failed item of the log (earlier sessions' too)."""
        return self.act_on_all(self._ids_in({ItemState.FAILED}), ItemAction.RETRY)

    def clear_finished(self) -> ActedOn:
        """Remove every item of the log that is done or cancelled (earlier
        sessions' too) from the log and the history."""
        finished = self._ids_in({ItemState.DONE, ItemState.CANCELLED})
        return self.act_on_all(finished, ItemAction.REMOVE)

    def _ids_in(self, states: set[ItemState]) -> list[int]:
        """The ids of the log's items in `states`: the history's, then this
        session's that a failed write keeps in memory only."""
        from tui.unlock.log_query import LogQuery

        ids = self.history.find_ids(LogQuery(states=frozenset(states))) if self.history else []
        known = set(ids)
        ids += [item.id for item in self.items(states) if item.id not in known]
        return ids

    def toggle_pause(self) -> bool | None:
        """Pause or resume the queue; returns whether it is paused now (None: no queue)."""
        if self.engine is None:
            return None
        if self.engine.paused:
            self.engine.resume()
        else:
            self.engine.pause()
        return self.engine.paused

    def unfinished(self) -> tuple[int, int]:
        """How many links of this process's queue are in flight, and how many wait."""
        in_flight = waiting = 0
        for item in self.items(UNFINISHED):
            if self.store.held_elsewhere(item):
                continue  # another process sends it
            if item.state is ItemState.UNLOCKING:
                in_flight += 1
            else:
                waiting += 1
        return in_flight, waiting

    def item(self, item_id: int) -> Item | None:
        """An item of the log: of this session, or read from the history."""
        return self.store.item(item_id)

    def items(self, states: Iterable[ItemState] | None = None) -> Iterator[Item]:
        """This session's items (those the engine follows), oldest first,
        in `states` if given."""
        wanted = None if states is None else frozenset(states)
        for item in self.store.current():
            if wanted is None or item.state in wanted:
                yield item

    def done_links(self) -> list[str]:
        """The direct link of every item done: of the whole history (earlier
        sessions' too, as the counts show them), oldest first, then this session's
        that a failed write keeps in memory only."""
        links = list(self.history.done_links()) if self.history is not None else []
        for item in self.store.current():
            unsaved = item.not_saved is not None or self.history is None
            if unsaved and item.state is ItemState.DONE and item.location:
                links.append(item.location)
        return links

    async def export(
        self, folder: Path, stamp: str, ids: Collection[int] | None = None
    ) -> ExportResult:
        """Export the history (or the items of `ids`) into `folder`, off the event
        loop; raises ActionRefused when there is no history, ExportFailed saying
        why it failed."""
        if self.history is None or self._closed:
            raise ActionRefused("The unlock history is not open")
        export = asyncio.ensure_future(
            asyncio.to_thread(export_history, self.history, folder, stamp, ids)
        )
        self._exports.add(export)
        export.add_done_callback(self._exports.discard)
        # Whoever asked may stop waiting; the export goes on to its end.
        return await asyncio.shield(export)

    # --- downloads ------------------------------------------------------------

    def download_folder(self) -> Path:
        """Where downloads go: `[download] dir`, else the user's download folder;
        the demo's own folder in the demo (it goes with it)."""
        from tui.settings import download_dir

        if self.profile.demo and not self.settings.download.dir:
            return self.profile.data_dir / "downloads"
        # Absolute: a resume finds the `.part` from wherever linkdeck starts next.
        return download_dir(self.settings.download.dir).absolute()

    def _open_downloads(self) -> None:
        assert self.history is not None
        self.downloads = Downloads(
            self.history,
            self.settings,
            EnginesOnFirstUse(self._download_engines),
            folder=self.download_folder(),
            emit=self._emit,
            fresh_link=self._fresh_link,
            connection_settings=self.connection_settings,
            clock=self.clock.now,
        )

    def _download_engines(self) -> dict[str, Engine]:
        from tui.core.download_engines import engines_for

        return engines_for(self)

    def restore_downloads(self) -> None:
        """Take back the downloads an earlier run left (once): after the first
        frame, as it reads every record and starts what goes on; at the latest
        before a download is acted on. A command takes back its own items' only
        (`Downloads.restore`)."""
        if self.downloads is None or self._command_client:
            return
        if not self._downloads_restored:
            self._downloads_restored = True
            self.downloads.restore()

    def download_http(self) -> httpx.AsyncClient:
        """The client every built-in download shares (made at the first)."""
        if self._download_http is None:
            from tui.api.http_client import make_http_client

            self._download_http = make_http_client(self.settings.api.ca_file)
        return self._download_http

    async def _fresh_link(self, item_id: int) -> DirectLink:
        """A new direct link for an item whose link expired."""
        item = self.item(item_id)
        if item is None:
            raise LookupError(GONE)
        if self.client is None:
            raise LookupError("not connected")
        return await self.client.direct_download_link(item.link)

    def connection_settings(self, hoster: str | None) -> ConnectionSettings | None:
        """The service's connection settings for `hoster`'s files (its own, else
        the list's default)."""
        for entry in self.hosters.hosters:
            if entry.name == hoster and entry.connection_settings is not None:
                return entry.connection_settings
        return self.hosters.default_connection_settings

    def _download_at_once(self, item: Item) -> None:
        """`[download] auto`: a link just unlocked is downloaded."""
        if self.downloads is None or self.store.held_elsewhere(item):
            return
        if self.downloads.get(item.id) is None:
            self.downloads.act([item], DownloadAction.DOWNLOAD)

    def act_on_downloads(self, item_ids: Iterable[int], action: DownloadAction) -> ActedOn:
        """Download, pause, resume, cancel (deleting what was written) or retry
        the downloads of items; ActionRefused when the history is not open."""
        if self.downloads is None:
            raise ActionRefused("The unlock history is not open")
        self.restore_downloads()  # a key typed before the start took them back
        if action is DownloadAction.DOWNLOAD:
            found, gone = [], 0
            for item_id in item_ids:
                item = self.item(item_id)
                if item is None:
                    gone += 1
                else:
                    found.append(item)
            acted = self.downloads.act(found, action)
            if gone:
                acted.left[GONE] += gone
            return acted
        return self.downloads.act(list(item_ids), action)

    def download(self, item_id: int) -> Download | None:
        """The item's download as it is now; None when it has none (or the
        history is not open)."""
        return None if self.downloads is None else self.downloads.get(item_id)

    def download_or_go_on(self, item_ids: Iterable[int]) -> ActedOn:
        """Download each item's file, by the state of its download: a paused
        one resumes, a failed or cancelled one is retried, the others start.
        One account of all (its verb the single action's when there was one)."""
        item_ids = list(item_ids)
        if self.downloads is not None:
            # Another process may have let go of some: their state of now decides.
            self.downloads.look_again_elsewhere(item_ids)
        groups: dict[DownloadAction, list[int]] = {}
        for item_id in item_ids:
            groups.setdefault(action_to_get(self.download(item_id)), []).append(item_id)
        accounts = [self.act_on_downloads(ids, action) for action, ids in groups.items()]
        if len(accounts) == 1:
            return accounts[0]
        together = ActedOn("Downloading")
        for account in accounts:
            together.acted += account.acted
            together.left.update(account.left)
        return together
