"""One unlock item in full: the whole direct link, every attempt, its
download, actions."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static, TextArea

from tui import formatting
from tui.api import meaning_of
from tui.core import ActedOn, ActionRefused, ItemAction, Session, why_no_link, why_not
from tui.core.download_queue import DownloadAction, why_not_to_download
from tui.core.download_queue import why_not as why_not_download
from tui.download.job import Download
from tui.unlock.items import Item, ItemState
from tui.untrusted import plain
from tui.widgets.download_text import detail_lines
from tui.widgets.unlock_log import STATE_STYLES, code_text, gave_up_after, held_words

DOWNLOAD_BUTTONS = {
    DownloadAction.DOWNLOAD: ("download-start", "Download"),
    DownloadAction.PAUSE: ("download-pause", "Pause"),
    DownloadAction.RESUME: ("download-resume", "Resume"),
    DownloadAction.CANCEL: ("download-cancel", "Cancel download"),
    DownloadAction.RETRY: ("download-retry", "Retry download"),
}
"""The detail's buttons for the item's download: (id, label) by action."""


class ItemDetailScreen(ModalScreen[None]):
    """Shows the item with `item_id` and follows its updates while open."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="detail-close", tooltip="Back to the log"),
        Binding("c", "copy", "Copy", id="detail-copy", tooltip="Copy the direct link"),
        Binding("R", "retry", "Retry", id="detail-retry", tooltip="Retry this item now"),
        Binding("x", "cancel", "Cancel", id="detail-cancel", tooltip="Cancel this item"),
        Binding(
            "f",
            "force",
            "Force",
            id="detail-force",
            tooltip="Send a link no hoster pattern matches anyway",
        ),
        Binding(
            "d",
            "download",
            "Download",
            id="detail-download",
            tooltip="Download the file (a paused download resumes, a failed one is retried)",
        ),
        Binding(
            "P",
            "pause_download",
            "Pause dl",
            id="detail-pause-download",
            tooltip="Pause the download",
        ),
        Binding(
            "X",
            "cancel_download",
            "Cancel dl",
            id="detail-cancel-download",
            tooltip="Cancel the download and delete its partial file",
        ),
        Binding(
            "delete",
            "remove",
            "Remove",
            id="detail-remove",
            tooltip="Remove this item from the log and the history",
        ),
    ]

    def __init__(self, session: Session, item_id: int) -> None:
        super().__init__()
        self.session = session
        self.item_id = item_id

    @property
    def item(self) -> Item | None:
        return self.session.item(self.item_id)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(id="detail-summary")
            yield Static("Direct link", classes="detail-heading")
            yield TextArea("", id="detail-location", read_only=True, soft_wrap=True)
            yield Static("Attempts", classes="detail-heading")
            yield Static(id="detail-attempts")
            yield Static("Download", classes="detail-heading")
            yield Static(id="detail-download")
            with Horizontal(id="detail-download-actions"):
                for button_id, label in DOWNLOAD_BUTTONS.values():
                    yield Button(label, id=button_id)
            with Horizontal(id="detail-actions"):
                yield Button("Copy", id="copy", variant="primary")
                yield Button("Retry", id="retry")
                yield Button("Cancel", id="cancel")
                yield Button("Force", id="force")
                yield Button("Remove", id="remove", variant="error")
                yield Button("Close", id="close")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail").border_title = "Unlock item"
        self.refresh_item()
        self.set_interval(1, self.refresh_item)

    def refresh_item(self) -> None:
        item = self.item
        if item is None:
            self.dismiss()
            return
        now = self.session.clock.now()
        summary = Text.assemble(
            ("link      ", "dim"),
            plain(item.link),
            "\n",
            ("hoster    ", "dim"),
            plain(item.hoster or "none matches", 200),
            "\n",
            ("state     ", "dim"),
            (self._state_words(item, now), STATE_STYLES[item.state]),
            (" (reused from history)" if item.reused else "", "green"),
            "\n",
            ("answer    ", "dim"),
            code_text(item),
            "\n",
            ("file      ", "dim"),
            plain(item.filename or "-", 300),
            f"  {formatting.size(item.filesize)}",
            "\n",
            ("queued    ", "dim"),
            formatting.local_datetime(item.created),
        )
        if item.next_attempt_at and item.state in (ItemState.WAITING, ItemState.HELD):
            summary.append(f"\nnext try  in {formatting.countdown(item.next_attempt_at - now)}")
        _set(self.query_one("#detail-summary", Static), summary)
        location = self.query_one("#detail-location", TextArea)
        text = plain(item.location) if item.location else ""
        if location.text != text:
            location.text = text
        location.placeholder = "" if item.location else why_no_link(item)
        attempts = Text()
        for attempt in item.attempts:
            code = "-" if attempt.status is None else str(attempt.status)
            # The message repeats the code first ("503 temporary error…"): shown once.
            what = attempt.message.removeprefix(f"{code} ")
            what = plain(what, 160) or meaning_of(attempt.status)
            attempts.append(f"{formatting.local_datetime(attempt.at)}  {code:>3}  {what}\n")
        _set(self.query_one("#detail-attempts", Static), attempts or Text("none yet", style="dim"))
        # A button that does nothing for this item is disabled (its key says why).
        for action in (ItemAction.RETRY, ItemAction.CANCEL, ItemAction.FORCE):
            button = self.query_one(f"#{action.value}", Button)
            button.disabled = why_not(item, action) is not None
        self.query_one("#copy", Button).disabled = not item.location
        self.show_download(self.session.download(item.id))

    def show_download(self, job: Download | None) -> None:
        """The Download section, and the buttons that apply to the download in
        its state (the others disabled, their tooltip saying why)."""
        _set(self.query_one("#detail-download", Static), detail_lines(job))
        item = self.item
        if item is None:
            return  # gone from the history: the screen closes
        for action, (button_id, _) in DOWNLOAD_BUTTONS.items():
            button = self.query_one(f"#{button_id}", Button)
            if action is DownloadAction.DOWNLOAD:
                why = why_not_to_download(item, job)
            else:
                why = why_not_download(job, action)
            button.disabled = why is not None
            button.tooltip = why

    def _state_words(self, item: Item, now: float) -> str:
        """ "held: hoster down until 14:05", "gave up after 5 attempts"."""
        if attempts := gave_up_after(item):
            return f"gave up after {attempts} attempts"
        engine = self.session.engine
        held = None if engine is None else held_words(item, engine.queue_state, now)
        return held or item.state.value

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "copy": self.action_copy,
            "retry": self.action_retry,
            "cancel": self.action_cancel,
            "force": self.action_force,
            "remove": self.action_remove,
            "close": self.dismiss,
        }
        action = actions.get(event.button.id or "")
        if action is not None:
            action()
            return
        for download_action, (button_id, _) in DOWNLOAD_BUTTONS.items():
            if event.button.id == button_id:
                self._on_download(download_action)

    def _on_download(self, action: DownloadAction) -> None:
        self._tell(lambda: self.session.act_on_downloads([self.item_id], action))

    def _tell(self, operation: Callable[[], ActedOn]) -> None:
        """Run an operation on the item's download, say what it did, show it."""
        try:
            acted = operation()
        except ActionRefused as refused:
            self.notify(str(refused), severity=refused.severity, markup=False)
            return
        severity = "information" if acted.acted else "warning"
        self.notify(acted.sentence(), severity=severity, timeout=5, markup=False)
        self.refresh_item()

    def action_download(self) -> None:
        self._tell(lambda: self.session.download_or_go_on([self.item_id]))

    def action_pause_download(self) -> None:
        self._on_download(DownloadAction.PAUSE)

    def action_cancel_download(self) -> None:
        self._on_download(DownloadAction.CANCEL)

    def action_copy(self) -> None:
        item = self.item
        if item and item.location:
            self.app.copy_to_clipboard(item.location)
            self.notify("Copied the direct link", timeout=3)
        elif item:
            self.notify(why_no_link(item), severity="warning", timeout=3)

    def _act(self, action: ItemAction) -> None:
        try:
            note = self.session.act(self.item_id, action)
        except ActionRefused as refused:
            self.notify(str(refused), severity=refused.severity, markup=False)
            return
        if note:
            self.notify(note, timeout=6, markup=False)

    def action_retry(self) -> None:
        self._act(ItemAction.RETRY)

    def action_cancel(self) -> None:
        self._act(ItemAction.CANCEL)

    def action_force(self) -> None:
        self._act(ItemAction.FORCE)

    def action_remove(self) -> None:
        self._act(ItemAction.REMOVE)


def _set(widget: Static, text: Text) -> None:
    if widget.content != text:
        widget.update(text)
