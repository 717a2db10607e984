"""The dashboard: account on top, hosters and the unlock log below.

From 32 rows the hosters sit above the log; on shorter terminals (80x24) one
of them shows at a time (keys 2 and 3 switch), so nothing is cut off; from
200 columns they sit side by side.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from tui.core import (
    AccountChanged,
    ActedOn,
    ActionRefused,
    BatchProgress,
    ExportFailed,
    FairUseTrend,
    HistoryOpened,
    HosterOutcomes,
    HostersChanged,
    HostersFailed,
    ItemAction,
    Session,
    why_no_link,
)
from tui.core.download_queue import DownloadAction
from tui.core.events import DownloadChanged, DownloadTotals, Event
from tui.unlock.extract import read_pasted
from tui.unlock.items import Item, ItemRemoved, ItemState, QueueState
from tui.unlock.log_query import LogSort
from tui.untrusted import plain
from tui.widgets.account import AccountPanel
from tui.widgets.hosters import HostersRegion
from tui.widgets.keys_footer import KeysFooter
from tui.widgets.unlock_log import UnlockRegion
from tui.widgets.virtual_table import VirtualTable

SHORT_HEIGHT = 32
RECENT_UNLOCKS = 8
"""How many of a hoster's latest items its detail lists."""
WIDE_WIDTH = 200
FOOTER_ORDER = (
    "links-submit",
    "links-leave",
    "filter-submit",
    "filter-clear",
    "filter-leave",
    "search-keep",
    "search-clear",
    "help",
    "focus-unlock",
    "copy-link",
    "download",
    "retry-item",
    "cancel-item",
    "pause",
    "settings",
    "refresh",
    "search-log",
    "filter-hosters",
    "sort-log",
    "copy-all",
    "pause-download",
    "cancel-download",
    "export-log",
    "quit",
)
"""The footer's keys by what a user needs most: those that do not fit are left
out, the last first. In an input, its own keys (what Enter and Escape do there) come first."""


def keymap_keeping_shared_keys(keymap: Mapping[str, str]) -> dict[str, str]:
    """`keymap` with, for each binding it moves off a key the dashboard shares
    between two bindings (`/`), the other binding on that key again: Textual
    drops every binding of a key when one of them is rebound."""
    full = dict(keymap)
    bindings = [b for b in DashboardScreen.BINDINGS if isinstance(b, Binding) and b.id]
    for moved in bindings:
        if moved.id in keymap:
            for other in bindings:
                if other is not moved and other.key == moved.key and other.id not in keymap:
                    full[other.id] = other.key  # type: ignore[index]
    return full


class DashboardScreen(Screen[None]):
    # The log, not the first input, has focus first, so every key works at once
    # (on_mount's focus() alone loses to auto focus on short terminals).
    AUTO_FOCUS = "#log"

    BINDINGS = [
        # `/` searches the log while it has focus, else the next `/` filters the
        # hosters (`check_action`): the log's search comes first.
        Binding(
            "slash",
            "search_log",
            "Search",
            id="search-log",
            tooltip="Search the log: words of the link, file name, hoster or answer;"
            " state:failed (or is:fail,wait) keeps those states",
        ),
        Binding(
            "o",
            "sort_log",
            "Sort",
            id="sort-log",
            tooltip="Sort the log by the next column: time, hoster, state, answer, name",
        ),
        Binding(
            "O",
            "reverse_log",
            "Reverse",
            show=False,
            id="reverse-log",
            tooltip="Reverse the order of the log",
        ),
        Binding(
            "slash",
            "filter_hosters",
            "Filter",
            id="filter-hosters",
            tooltip="Filter the hosters by name, TLD or a pasted link",
        ),
        Binding("u", "focus_unlock", "Unlock", id="focus-unlock", tooltip="Paste links to unlock"),
        Binding(
            "c",
            "copy_link",
            "Copy",
            id="copy-link",
            tooltip="Copy the direct links of the marked items or the cursor's (OSC 52)",
        ),
        # The footer shows it once a file can be downloaded (`_hidden_key`);
        # before, the key says why it does nothing.
        Binding(
            "d",
            "download",
            "Download",
            id="download",
            tooltip="Download the files of the marked items (or the cursor's): a paused"
            " one resumes, a failed or cancelled one is retried",
        ),
        Binding(
            "P",
            "pause_download",
            "Pause dl",
            id="pause-download",
            tooltip="Pause the downloads of the marked items (or the cursor's)",
        ),
        Binding(
            "X",
            "cancel_download",
            "Cancel dl",
            id="cancel-download",
            tooltip="Cancel the downloads of the marked items (or the cursor's) and delete"
            " their partial files",
        ),
        Binding(
            "y",
            "copy_all",
            "Copy all",
            id="copy-all",
            tooltip="Copy every direct link of the finished items",
        ),
        Binding(
            "e",
            "export",
            "Export",
            id="export-log",
            tooltip="Export the log as JSON lines and a list of direct links",
        ),
        Binding(
            "R",
            "retry_item",
            "Retry",
            id="retry-item",
            tooltip="Retry the marked items (or the cursor's) now",
        ),
        Binding(
            "x",
            "cancel_item",
            "Cancel",
            id="cancel-item",
            tooltip="Cancel the marked items (or the cursor's)",
        ),
        Binding(
            "delete",
            "remove_items",
            "Remove",
            show=False,
            id="remove-items",
            tooltip="Remove the marked items (or the cursor's) from the log and the history",
        ),
        Binding(
            "F",
            "retry_failed",
            "Retry failed",
            show=False,
            id="retry-failed",
            tooltip="Retry every failed item now",
        ),
        Binding(
            "D",
            "clear_finished",
            "Clear finished",
            show=False,
            id="clear-finished",
            tooltip="Remove every done and cancelled item from the log and the history",
        ),
        Binding(
            "1",
            "focus_region('account')",
            "Account",
            show=False,
            id="focus-account",
            tooltip="Focus the account panel",
        ),
        Binding(
            "2",
            "focus_region('hosters')",
            "Hosters",
            show=False,
            id="focus-hosters",
            tooltip="Focus the hosters",
        ),
        Binding(
            "3",
            "focus_region('unlock')",
            "Log",
            show=False,
            id="focus-log",
            tooltip="Focus the unlock log",
        ),
        Binding(
            "escape",
            "leave_input",
            "Leave input",
            show=False,
            id="leave-input",
            tooltip="Leave the input for its region's table",
        ),
    ]

    def __init__(self, session: Session) -> None:
        # The log's region is the one shown first in the short layout: its class
        # is set before the first style pass (a class change restyles every widget).
        super().__init__(classes="-show-unlock")
        self.session = session
        self.clock = session.clock.now
        self._from_palette = False
        self._told_download_folder = False

    def compose(self) -> ComposeResult:
        # The first frame shows what the session read from its cache.
        yield AccountPanel(self.clock, self.session.account.view, id="account")
        with Horizontal(id="regions"):
            yield HostersRegion(self.clock, self.session.cached_hosters, id="hosters")
            yield UnlockRegion(self.clock, self.session.store, id="unlock")
        yield KeysFooter(FOOTER_ORDER, hidden=self._hidden_key)

    def _hidden_key(self, binding_id: str) -> bool:
        """`d` is not shown before an item has a file to download: at 80
        columns it would take the room of a key that works."""
        return binding_id == "download" and not self.unlock.can_download

    @property
    def account(self) -> AccountPanel:
        return self.query_one(AccountPanel)

    @property
    def hosters(self) -> HostersRegion:
        return self.query_one(HostersRegion)

    @property
    def unlock(self) -> UnlockRegion:
        return self.query_one(UnlockRegion)

    def on_mount(self) -> None:
        self.account.border_title = "linkdeck · Account"
        # First in line: what a key asks for before the log is mounted comes after.
        self.unlock.when_built(self._focus_log_first)

    def _focus_log_first(self) -> None:
        if self.focused is None:
            # The log, not the input, has focus first, so every key works at once.
            self.query_one("#log").focus()

    async def build(self) -> None:
        """Mount what the first frame goes without: the fair-use bar, the
        hosters' filter and the parts of the log's region, all in one frame."""
        with self.app.batch_update():
            await self.account.build()
            await self.hosters.build()
            await self.unlock.build()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < SHORT_HEIGHT, "-short")
        self.set_class(event.size.width >= WIDE_WIDTH, "-wide")

    # --- regions ----------------------------------------------------------

    def show_region(self, region: str) -> None:
        """In the short layout, show the hosters or the log."""
        self.set_class(region == "hosters", "-show-hosters")
        self.set_class(region != "hosters", "-show-unlock")

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        for region in (self.hosters, self.unlock):
            if event.widget in region.walk_children(Widget) or event.widget is region:
                self.show_region(region.id or "unlock")

    def action_focus_region(self, region: str) -> None:
        if region == "account":
            self.account.focus()
        elif region == "hosters":
            self.show_region("hosters")
            self.query_one("#hoster-table").focus()
        else:
            self.show_region("unlock")
            self._focus_in_unlock("#log")

    def _focus_in_unlock(self, selector: str) -> None:
        """Focus a part of the log's region once it is mounted (a click in the
        footer may come before: it waits; keys wait in the App)."""
        self.unlock.when_built(lambda: self.query_one(selector).focus())

    _LOG_ACTIONS = frozenset({"search_log", "sort_log", "reverse_log"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The log's keys work while it has focus: elsewhere `/` goes on to the
        hosters' filter, bound after the log's search. From the command
        palette each works wherever the focus is."""
        if self._from_palette or action not in self._LOG_ACTIONS:
            return True
        # Not in an input: it takes those keys as text.
        return self._log_has_focus() and not isinstance(self.focused, Input)

    async def run_from_palette(self, action: str) -> None:
        """Run one of this screen's actions as the command palette does: by name,
        whichever region has focus."""
        self._from_palette = True
        try:
            await self.app.run_action(action, self)
        finally:
            self._from_palette = False

    def _log_has_focus(self) -> bool:
        # No query: the footer asks while the screen is being built or torn down.
        focused = self.focused
        return focused is not None and any(
            isinstance(node, UnlockRegion) for node in focused.ancestors_with_self
        )

    def action_search_log(self) -> None:
        self.show_region("unlock")
        self.unlock.when_built(self._open_log_search)

    def _open_log_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.remove_class("-hidden")
        box.value = self.unlock.log_query.text
        box.focus()

    def _close_log_search(self, *, clear: bool) -> None:
        box = self.query_one("#log-search", Input)
        if clear:
            box.value = ""
            self.unlock.search(self.unlock.log_query.parsed_again(""))
        box.add_class("-hidden")
        self.query_one("#log").focus()

    @on(Input.Changed, "#log-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if event.value != self.unlock.log_query.text:
            self.unlock.search(self.unlock.log_query.parsed_again(event.value))

    @on(Input.Submitted, "#log-search")
    def _search_kept(self) -> None:
        self._close_log_search(clear=False)

    def action_sort_log(self) -> None:
        query = self.unlock.log_query
        sorts = list(LogSort)
        following = sorts[(sorts.index(query.sort) + 1) % len(sorts)]
        self.unlock.search(query.sorted_by(following, descending=False))

    def action_reverse_log(self) -> None:
        query = self.unlock.log_query
        self.unlock.search(query.sorted_by(query.sort, descending=not query.descending))

    def action_filter_hosters(self) -> None:
        self.show_region("hosters")
        # Once mounted, as in `_focus_in_unlock`.
        self.hosters.when_built(lambda: self.query_one("#hoster-filter").focus())

    def action_focus_unlock(self) -> None:
        self.show_region("unlock")
        self._focus_in_unlock("#links")

    def action_leave_input(self) -> None:
        focused = self.focused
        if isinstance(focused, Input) and focused.id == "hoster-filter":
            self.query_one("#hoster-table").focus()
        elif isinstance(focused, Input) and focused.id == "links":
            self.query_one("#log").focus()
        elif isinstance(focused, Input) and focused.id == "log-search":
            self._close_log_search(clear=True)
        elif focused is not None and focused.id == "log" and self.unlock.log_query.filters:
            self._close_log_search(clear=True)  # as k9s: esc drops the filter

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker of this screen that failed: one sentence, the record in the log."""
        error = event.worker.error
        if event.state is WorkerState.ERROR and isinstance(error, Exception):
            self.session.report_unexpected(event.worker.name or "background", error)

    # --- what the session tells ---------------------------------------------

    def show_event(self, event: Event) -> None:
        if isinstance(event, Item):
            self.unlock.show(event)
        elif isinstance(event, ItemRemoved):
            self.unlock.remove(event.id)
        elif isinstance(event, QueueState):
            self.unlock.set_queue(event)
        elif isinstance(event, BatchProgress):
            self.unlock.set_batch(event)
        elif isinstance(event, AccountChanged):
            self.account.show(event.view)
        elif isinstance(event, FairUseTrend):
            self.account.set_fairuse_history(event.samples)
        elif isinstance(event, HostersChanged):
            self.hosters.set_hosters(event.hosters, event.matcher)
        elif isinstance(event, HosterOutcomes):
            self.hosters.set_outcomes(event.outcomes)
        elif isinstance(event, HostersFailed):
            self.hosters.set_problem(event.problem)
        elif isinstance(event, HistoryOpened):
            self.unlock.load_history()
        elif isinstance(event, DownloadChanged):
            self.unlock.show_download(event.download)
        elif isinstance(event, DownloadTotals):
            self.unlock.set_download_totals(event)

    # --- unlock -----------------------------------------------------------

    @on(Input.Submitted, "#links")
    def queue_links(self, event: Input.Submitted) -> None:
        if self.session.engine is None:
            self.notify("Not connected yet: check the settings (s)", severity="warning")
            return
        if not event.value.strip():
            return
        event.input.clear()
        self._queue(event.value, event.input)

    @work(group="queue", exit_on_error=False)
    async def _queue(self, text: str, box: Input) -> None:
        """Queue in a worker: 10,000 links take the engine a second, in steps."""
        # The input holds one line (a paste's lines are joined by spaces): it is
        # read word by word. Off the event loop: 10,000 links are read twice
        # (here, and by the engine).
        pasted = await asyncio.to_thread(read_pasted, "\n".join(text.split()))
        left_out = pasted.left_out("word")
        try:
            queued = await self.session.queue(text)
        except ActionRefused as refused:
            self.notify(str(refused), severity="warning")
            return
        if queued.error is not None:
            # What was not queued goes back in the box (unless something new
            # was typed meanwhile), to try again.
            if not box.value:
                box.value = " ".join(queued.rest)
            self.notify(
                f"Not queued: {queued.error.reason}, so the history cannot be written"
                + (f" ({len(queued.added)} of {queued.links} were queued)" if queued.added else ""),
                title="Links not queued",
                severity="error",
                timeout=10,
                markup=False,
            )
            return
        added = queued.added
        unsupported = sum(1 for item in added if item.state is ItemState.UNSUPPORTED)
        text = f"Queued {len(added)} link(s)"
        if unsupported:
            text += f"; no hoster serves {unsupported} (open one with Enter, then f forces it)"
        held = self.session.hold_clause()
        if held and any(item.state is ItemState.HELD for item in added):
            text += f". They are {held}"
        if not added:
            text = "No new link in that text (already queued, or no http(s) link)"
        # The pasted lines come from anywhere: shown plain, never as markup.
        long = held or left_out
        self.notify(". ".join([text, *left_out]), timeout=8 if long else 4, markup=False)

    @on(VirtualTable.RowSelected, "#log")
    def open_item(self, event: VirtualTable.RowSelected) -> None:
        from tui.screens.detail import ItemDetailScreen

        item = self.session.item(int(event.key))
        if item is not None:
            self.app.push_screen(ItemDetailScreen(self.session, item.id))

    @on(VirtualTable.RowSelected, "#hoster-table")
    def open_hoster(self, event: VirtualTable.RowSelected) -> None:
        from tui.screens.hoster_detail import HosterDetailScreen

        name = event.key
        mine = [item for item in self.session.items() if item.hoster == name]
        facts = self.hosters.facts(name, mine[: -RECENT_UNLOCKS - 1 : -1])
        if facts is not None:
            self.app.push_screen(HosterDetailScreen(facts))

    def _selected(self) -> Item | None:
        item = self.unlock.selected
        if item is None:
            hidden = self.unlock.log_query.filters
            why = "The search shows no item (Escape clears it)" if hidden else "The log is empty"
            self.notify(why, severity="warning", timeout=3)
        return item

    def action_copy_link(self) -> None:
        if ids := self.unlock.marked_ids:
            self._copy_selection(ids)
            return
        item = self._selected()
        if item is None:
            return
        if not item.location:
            self.notify(why_no_link(item), severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard(item.location)
        # The file name comes from the server: shown plain, never as markup.
        name = plain(item.filename or item.link, 80)
        self.notify(f"Copied the direct link of {name}", timeout=3, markup=False)

    def _copy_selection(self, ids: list[int]) -> None:
        items = [item for item in map(self.session.item, ids) if item is not None]
        links = [item.location for item in items if item.location]
        if not links:
            self.notify("No marked item has a direct link", severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard("\n".join(links))
        without = len(ids) - len(links)
        rest = f"; {without} marked had none" if without else ""
        self.notify(f"Copied {len(links)} direct link(s){rest}", timeout=3)

    def action_copy_all(self) -> None:
        links = self.session.done_links()
        if not links:
            self.notify("No finished item has a direct link yet", severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard("\n".join(links))
        self.notify(f"Copied {len(links)} direct link(s)", timeout=3)

    def act(self, action: ItemAction, item_id: int) -> None:
        try:
            note = self.session.act(item_id, action)
        except ActionRefused as refused:
            self.notify(str(refused), severity=refused.severity, markup=False)
            return
        if note:
            self.notify(note, timeout=6, markup=False)

    def _act_on_selection(self, action: ItemAction) -> None:
        """Act on the rows selected, or else on the cursor's."""
        ids = self.unlock.marked_ids
        if not ids:
            item = self._selected()
            if item is not None:
                self.act(action, item.id)
            return
        self._tell(lambda: self.session.act_on_all(ids, action))

    def _tell(self, operation: Callable[[], ActedOn], *words: str) -> None:
        """Run an operation on several items and say in one toast what it did."""
        acted = self._tried(operation)
        if acted is not None:
            self._say(acted, *words)

    def _tried(self, operation: Callable[[], ActedOn]) -> ActedOn | None:
        """What an operation on several items did; None (said why) when it was refused."""
        try:
            return operation()
        except ActionRefused as refused:
            self.notify(str(refused), severity=refused.severity, markup=False)
            return None

    def _say(self, acted: ActedOn, verb: str | None = None, noun: str = "") -> None:
        severity = "information" if acted.acted or not acted.left else "warning"
        self.notify(acted.sentence(verb, noun), severity=severity, timeout=5, markup=False)

    def action_retry_item(self) -> None:
        self._act_on_selection(ItemAction.RETRY)

    def action_cancel_item(self) -> None:
        self._act_on_selection(ItemAction.CANCEL)

    def action_remove_items(self) -> None:
        self._act_on_selection(ItemAction.REMOVE)

    def action_retry_failed(self) -> None:
        self._tell(self.session.retry_failed)

    def action_clear_finished(self) -> None:
        self._tell(self.session.clear_finished, "Cleared", " finished item(s)")

    # --- downloads ----------------------------------------------------------

    def _download_ids(self) -> list[int]:
        """The marked items, or else the cursor's (none, said why, when the log shows none)."""
        if ids := self.unlock.marked_ids:
            return ids
        item = self._selected()
        return [] if item is None else [item.id]

    def _on_downloads(self, operation: Callable[[list[int]], ActedOn]) -> ActedOn | None:
        """`operation` on the marked items' downloads, or the cursor's; None
        (said why) when there is none or the history is not open."""
        ids = self._download_ids()
        return self._tried(lambda: operation(ids)) if ids else None

    def action_download(self) -> None:
        acted = self._on_downloads(self.session.download_or_go_on)
        if acted is None:
            return
        if acted.acted and acted.verb == "Downloading" and not self._told_download_folder:
            # Where the files go, once: the demo's are in its own folder.
            self._told_download_folder = True
            self._say(acted, None, f" to {self.session.download_folder()}")
        else:
            self._say(acted)

    def action_pause_download(self) -> None:
        pause = DownloadAction.PAUSE
        acted = self._on_downloads(lambda ids: self.session.act_on_downloads(ids, pause))
        if acted is not None:
            self._say(acted)

    def action_cancel_download(self) -> None:
        cancel = DownloadAction.CANCEL
        acted = self._on_downloads(lambda ids: self.session.act_on_downloads(ids, cancel))
        if acted is None:
            return
        deleted = ""
        if acted.acted:
            deleted = (
                " (the partial file deleted)"
                if acted.acted == 1
                else " (their partial files deleted)"
            )
        self._say(acted, None, deleted)

    def action_export(self) -> None:
        """Ask for the folder, then export the selection, or the whole log."""
        from tui.core.exports import default_export_folder
        from tui.screens.export_path import ExportPathScreen

        if self.session.history is None:
            return
        ids = self.unlock.marked_ids or None
        what = "the whole log" if ids is None else f"the {len(ids)} selected item(s)"
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.clock()))

        def chosen(folder: Path | None) -> None:
            if folder is not None:
                self._export(folder, stamp, ids)

        self.app.push_screen(ExportPathScreen(default_export_folder(), what), chosen)

    @work(group="export", exit_on_error=False)
    async def _export(self, folder: Path, stamp: str, ids: list[int] | None) -> None:
        """In a worker: the history is written out off the event loop."""
        try:
            result = await self.session.export(folder, stamp, ids)
        except (ActionRefused, ExportFailed) as refused:
            self.notify(str(refused), severity="error", markup=False)
            return
        text = f"Exported {result.count} item(s) to {result.jsonl} and {result.links.name}"
        if result.unreadable:
            from tui.unlock.history import unreadable_sentence

            text += f"; {unreadable_sentence(result.unreadable)}"
        self.notify(text, timeout=8, markup=False)
