"""The dashboard: account on top, hosters and the unlock log below.

From 32 rows the hosters sit above the log; on shorter terminals (80x24) one
of them shows at a time (keys 2 and 3 switch), so nothing is cut off; from
200 columns they sit side by side.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input

from tui.api import AccountStatus
from tui.formatting import days_left, percent
from tui.safe_files import RefusedFile, create_numbered
from tui.settings import WarningSettings
from tui.unlock.history import History, unreadable_sentence
from tui.unlock.items import Event, Item, ItemRemoved, ItemState, QueueState
from tui.untrusted import plain
from tui.widgets.account import AccountPanel, Connection
from tui.widgets.hosters import HostersRegion
from tui.widgets.unlock_log import UnlockRegion
from tui.widgets.virtual_table import VirtualTable

SHORT_HEIGHT = 32
WIDE_WIDTH = 200


if TYPE_CHECKING:
    from tui.app import LinkdeckApp
    from tui.unlock.engine import UnlockEngine


class DashboardScreen(Screen[None]):
    # The log, not the first input, has focus first, so every key works at once
    # (on_mount's focus() alone loses to auto focus on short terminals).
    AUTO_FOCUS = "#log"

    BINDINGS = [
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
            tooltip="Copy the selected direct link (OSC 52, works over SSH)",
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
        Binding("R", "retry_item", "Retry", id="retry-item", tooltip="Retry the selected item now"),
        Binding("x", "cancel_item", "Cancel", id="cancel-item", tooltip="Cancel the selected item"),
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

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self.clock = clock
        self._warned: set[str] = set()

    @property
    def deck(self) -> LinkdeckApp:
        return cast("LinkdeckApp", self.app)

    def compose(self) -> ComposeResult:
        yield AccountPanel(self.clock, id="account")
        with Horizontal(id="regions"):
            yield HostersRegion(self.clock, id="hosters")
            yield UnlockRegion(self.clock, id="unlock")
        yield Footer()

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
        self.show_region("unlock")
        # The log, not the input, has focus first, so every key works at once.
        self.query_one("#log").focus()

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
            self.query_one("#log").focus()

    def action_filter_hosters(self) -> None:
        self.show_region("hosters")
        self.query_one("#hoster-filter").focus()

    def action_focus_unlock(self) -> None:
        self.show_region("unlock")
        self.query_one("#links").focus()

    def action_leave_input(self) -> None:
        focused = self.focused
        if isinstance(focused, Input) and focused.id == "hoster-filter":
            self.query_one("#hoster-table").focus()
        elif isinstance(focused, Input) and focused.id == "links":
            self.query_one("#log").focus()

    # --- account ----------------------------------------------------------

    def show_account(self, account: AccountStatus, at: float, warnings: WarningSettings) -> None:
        panel = self.account
        panel.account = account
        panel.last_ok = at
        panel.next_retry = None
        panel.problem = ""
        panel.connection = Connection.OK
        low_fairuse = account.fairuse_left < warnings.fairuse_below
        left = days_left(account.expires, at)
        expiring = left is not None and left < warnings.expiry_days_below
        panel.fairuse_warning = low_fairuse
        panel.expiry_warning = expiring
        self._warn_once(
            "fairuse", low_fairuse, f"Fair use is low: {percent(account.fairuse_left)} left"
        )
        if left is not None:
            self._warn_once("expiry", expiring, f"The account expires in {max(int(left), 0)} days")

    def _warn_once(self, name: str, active: bool, text: str) -> None:
        """Notify when a threshold is crossed, not at every refresh."""
        if active and name not in self._warned:
            self._warned.add(name)
            self.notify(text, title="Account", severity="warning", timeout=10)
        elif not active:
            self._warned.discard(name)

    # --- unlock -----------------------------------------------------------

    def on_engine_event(self, event: Event) -> None:
        if isinstance(event, Item):
            self.unlock.show(event)
        elif isinstance(event, ItemRemoved):
            self.unlock.remove(event.id)
        elif isinstance(event, QueueState):
            self.unlock.set_queue(event)

    @on(Input.Submitted, "#links")
    def queue_links(self, event: Input.Submitted) -> None:
        engine = self.deck.engine
        if engine is None:
            self.notify("Not connected yet: check the settings (s)", severity="warning")
            return
        if not event.value.strip():
            return
        event.input.clear()
        self._queue(engine, event.value, event.input)

    @work(group="queue")
    async def _queue(self, engine: UnlockEngine, text: str, box: Input) -> None:
        """Queue in a worker: 10,000 links take the engine a second, in steps."""
        queued = await engine.queue(text)
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
            text += f"; {unsupported} no hoster serves (select and press Enter to force)"
        if not added:
            text = "No new link in that text (already queued, or no http(s) link)"
        self.notify(text, timeout=4)

    @on(VirtualTable.RowSelected, "#log")
    def open_item(self, event: VirtualTable.RowSelected) -> None:
        from tui.screens.detail import ItemDetailScreen

        item = self.unlock.item(int(event.key))
        if item is not None:
            self.app.push_screen(ItemDetailScreen(item.id))

    def _selected(self) -> Item | None:
        item = self.unlock.selected
        if item is None:
            self.notify("The log is empty", severity="warning", timeout=3)
        return item

    def action_copy_link(self) -> None:
        item = self._selected()
        if item is None:
            return
        if not item.location:
            self.notify("This item has no direct link yet", severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard(item.location)
        # The file name comes from the server: shown plain, never as markup.
        name = plain(item.filename or item.link, 80)
        self.notify(f"Copied the direct link of {name}", timeout=3, markup=False)

    def action_copy_all(self) -> None:
        links = [
            item.location
            for item in self.unlock.items.values()
            if item.state is ItemState.DONE and item.location
        ]
        if not links:
            self.notify("No finished item has a direct link yet", severity="warning", timeout=3)
            return
        self.app.copy_to_clipboard("\n".join(links))
        self.notify(f"Copied {len(links)} direct link(s)", timeout=3)

    def action_retry_item(self) -> None:
        item = self._selected()
        if item is not None:
            self.deck.item_action("retry", item.id)

    def action_cancel_item(self) -> None:
        item = self._selected()
        if item is not None:
            self.deck.item_action("cancel", item.id)

    def action_export(self) -> None:
        history = self.deck.history
        if history is None:
            return
        folder: Path = self.deck.profile.data_dir / "exports"
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.clock()))
        self._export(history, folder, stamp)

    def _export(self, history: History, folder: Path, stamp: str) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            (jsonl, jsonl_fd), (links, links_fd) = create_numbered(
                folder, f"linkdeck-{stamp}", (".jsonl", "-links.txt"), "exports"
            )
            with (
                os.fdopen(jsonl_fd, "w", encoding="utf-8") as jsonl_fp,
                os.fdopen(links_fd, "w", encoding="utf-8") as links_fp,
            ):
                count = history.export_jsonl(jsonl_fp)
                history.export_links(links_fp)
        except RefusedFile as refused:
            self.notify(f"Export refused: {refused}", severity="error", markup=False)
            return
        except OSError as error:
            self.notify(f"Export failed: {error.strerror}", severity="error", markup=False)
            return
        text = f"Exported {count} item(s) to {jsonl} and {links.name}"
        if history.unreadable_ids:
            text += f"; {unreadable_sentence(len(history.unreadable_ids))}"
        self.notify(text, timeout=8, markup=False)
