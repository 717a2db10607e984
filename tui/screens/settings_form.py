"""The settings screen, which is also the first-run screen.

The form is generated from ``setting_fields()``: adding a setting to the model
adds it here. Every rule comes from ``tui.settings`` (``coerce`` per field,
``validate`` for the rules that span fields), so the screen, the config file
and the CLI agree. "Test connection" builds a throw-away ``ApiClient`` from what
is in the form, never from the saved settings. The PIN only ever lives in a
password Input and the client: it is not logged, notified or put in a message.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Collapsible, Footer, Input, Select, Static, Switch

from tui.api import ApiClient, Credentials, LinkdeckError, LoginFailed, redact
from tui.api.errors import TransportError, UntrustedCertificate
from tui.formatting import percent
from tui.secret import Secret
from tui.settings import (
    ApiSettings,
    Settings,
    SettingsError,
    resolve_password,
    save_settings,
    setting_fields,
    settings_from_dict,
    settings_to_dict,
    validate,
)
from tui.untrusted import plain
from tui.widgets.setting_row import SettingRow

__all__ = ["ESSENTIALS", "SettingsScreen"]

ESSENTIALS = ("api.url", "api.login", "api.password")
"""The settings a first run asks for before anything else."""

_FIRST_RUN_INTRO = (
    "linkdeck needs the API URL of the service, your customer ID and your PIN. "
    "Test them with ctrl+t, then save with ctrl+s (ctrl+q quits). "
    "The PIN travels in the URL, so plain http:// is refused unless the host is this "
    "machine or you allow it under More settings."
)
_KEYMAP_NOTE = (
    "Key bindings are edited in the config file, in its [keymap] table: binding id = keys, "
    'e.g. copy-link = "ctrl+y". The help screen (?) lists the binding ids.'
)


def _section_titles() -> dict[str, str]:
    """Table name -> heading, from the help text the Settings dataclass carries."""
    return {f.name: f.metadata.get("help", f.name) for f in dataclasses.fields(Settings)}


def _missing(data: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """The essentials that are still empty, as ``(key, reason)``: the dashboard
    cannot connect without them, so they are required to save."""
    api = data["api"]
    if not api["url"]:
        yield "api.url", f"{_named('api.url')} is needed: the service's API endpoint"
    if not api["login"]:
        yield "api.login", f"{_named('api.login')} is needed: your customer ID (usually 9 digits)"
    if not api["password"] and not api["password_command"]:
        yield "api.password", f"{_named('api.password')} is needed, or a PIN command"


def _named(key: str) -> str:
    """A setting as the form names it: "API URL (api.url)"."""
    labels = {field.key: field.label for field in setting_fields()}
    return f"{labels[key]} ({key})"


def _form_value(row: SettingRow) -> object:
    """A field's value; the PIN as a Secret, so that the form's data (in the
    frames of every handler here) never shows it in a crash report."""
    value = row.value()
    return Secret(str(value)) if row.field.secret else value


def _with_pin(data: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The form's data as the settings layer takes it: the PIN (and every other
    secret) as text, in a copy made for the call it is passed to."""
    return {
        table: {
            name: value.reveal() if isinstance(value, Secret) else value
            for name, value in values.items()
        }
        for table, values in data.items()
    }


def describe_failure(error: Exception, pin: Secret) -> str:
    """One sentence for a failed connection test; never contains the PIN."""
    if isinstance(error, LoginFailed):
        text = "login failed: check login and PIN"
    elif isinstance(error, UntrustedCertificate):
        text = str(error)
    elif isinstance(error, TransportError):
        text = f"unreachable: {error.server_message or error.meaning}"
    elif isinstance(error, LinkdeckError | SettingsError):
        text = str(error)
    else:  # httpx refusing the URL itself
        text = f"test failed: {error}"
    return plain(redact(text, pin))


class SettingsScreen(ModalScreen[Settings | None]):
    """Edit, test and save the settings; dismissed with the saved settings or ``None``.

    On a successful save the screen awaits ``app.apply_settings(settings)`` before
    it dismisses itself, so the app runs on the new settings at once.
    """

    DEFAULT_CSS = """
    SettingsScreen {
        align: center middle;
        & #settings-dialog {
            width: 100%;
            max-width: 110;
            height: 100%;
            background: $surface;
        }
        & #settings-title {
            height: 1;
            padding: 0 1;
            background: $panel;
            text-style: bold;
        }
        & #settings-form { height: 1fr; padding: 0 1; }
        /* The theme's list opens over the form: kept off the footer's line. */
        & SelectOverlay { margin-bottom: 1; }
        & #settings-intro { margin: 1 0; }
        & .settings-section {
            margin: 1 0;
            color: $text-accent;
            text-style: bold;
        }
        & #settings-keymap { color: $text-muted; margin-bottom: 1; }
        & Collapsible { padding: 0; border: none; }
        & Collapsible > Contents { padding: 0; }
        & #settings-status { height: auto; max-height: 3; padding: 0 1; }
        & #settings-status.-ok { color: $text-success; }
        & #settings-status.-error { color: $text-error; }
        & #settings-status.-warning { color: $text-warning; }
        & #settings-buttons { height: 1; padding: 0 1; margin-bottom: 1; }
        & #settings-buttons Button { margin-right: 2; }
    }
    """

    BINDINGS = [
        Binding(
            "ctrl+t",
            "test_connection",
            "Test connection",
            id="settings_test",
            tooltip="Call the service with the values in the form (nothing is saved)",
        ),
        Binding(
            "ctrl+s",
            "save",
            "Save",
            id="settings_save",
            tooltip="Check every value, write the config file (mode 0600) and use it",
        ),
        Binding(
            "escape",
            "cancel",
            "Cancel",
            id="settings_cancel",
            tooltip="Leave the settings without saving",
        ),
    ]

    def __init__(
        self,
        settings: Settings,
        config_path: Path,
        *,
        themes: Sequence[str] = (),
        first_run: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.themes = list(themes)
        """The themes the form offers."""
        self.config_path = Path(config_path)
        self.first_run = first_run
        self.title = "Welcome to linkdeck" if first_run else "Settings"
        self._rows: dict[str, SettingRow] = {}
        self._save_attempted = False
        self._saving = False
        self._tested: dict[str, str] | None = None
        """The form's text when the shown test result was made (it is cleared on change)."""

    # --- building the form ------------------------------------------------

    def _make_rows(self) -> None:
        for field in setting_fields():
            override = self.settings.overrides.get(field.key)
            note = (
                f"Now set by {override.source}; saved only if you change it" if override else None
            )
            self._rows[field.key] = SettingRow(
                field,
                self.settings.get(field.key),
                choices=self.themes if field.key == "ui.theme" else field.choices,
                note=note,
            )

    def _section(self, keys: list[str], titles: dict[str, str]) -> ComposeResult:
        """Rows of ``keys``, with a heading each time the table changes."""
        current = None
        for key in keys:
            row = self._rows[key]
            if row.field.section != current:
                current = row.field.section
                heading = Text.assemble((titles[current], "bold"), (f"  [{current}]", "dim"))
                yield Static(heading, classes="settings-section")
            yield row

    def compose(self) -> ComposeResult:
        self._make_rows()
        titles = _section_titles()
        keys = list(self._rows)
        with Vertical(id="settings-dialog"):
            title = Text.assemble(
                (self.title or "", "bold"), (f"  {self.config_path}", "not bold dim")
            )
            yield Static(title, id="settings-title")
            # Not a tab stop of its own: focusing a field scrolls it into view.
            with VerticalScroll(id="settings-form", can_focus=False):
                if self.first_run:
                    yield Static(_FIRST_RUN_INTRO, id="settings-intro", markup=False)
                    yield from self._section(list(ESSENTIALS), titles)
                    with Collapsible(title="More settings", id="settings-more"):
                        yield from self._section([k for k in keys if k not in ESSENTIALS], titles)
                        yield Static(_KEYMAP_NOTE, id="settings-keymap", markup=False)
                else:
                    yield from self._section(keys, titles)
                    yield Static(_KEYMAP_NOTE, id="settings-keymap", markup=False)
            yield Static("", id="settings-status", markup=False)
            with Horizontal(id="settings-buttons"):
                yield Button("Test connection", id="settings-test", compact=True)
                yield Button("Save", id="settings-save", variant="primary", compact=True)
                if self.first_run:
                    yield Button("Quit", id="settings-quit", compact=True)
                else:
                    yield Button("Cancel", id="settings-cancel", compact=True)
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # On a first run there is nothing to go back to: escape must not leave
        # the app with no settings. Quitting is ctrl+q (or the Quit button).
        return not (action == "cancel" and self.first_run)

    # --- reading and checking the form ------------------------------------

    def _read(self) -> tuple[dict[str, dict[str, Any]], dict[str, str], dict[str, str]]:
        """The form as a settings dict (over the current settings, so the keymap
        is kept), the fields that do not parse, and the other problems (rules
        spanning fields, missing essentials), each by dotted key."""
        data = settings_to_dict(self.settings)
        bad: dict[str, str] = {}
        for key, row in self._rows.items():
            try:
                data[row.field.section][row.field.name] = _form_value(row)
            except SettingsError as error:
                bad[key] = error.labelled_detail
        other: dict[str, str] = {}
        # The rules spanning fields (plain http without allow_insecure_http); a
        # field that does not parse still holds its saved, valid value in data.
        for error in validate(_with_pin(data)):
            if error.key in self._rows and error.key not in bad:
                other.setdefault(error.key, error.labelled_detail)
        if self._save_attempted:
            for key, reason in _missing(data):
                other.setdefault(key, reason)
        return data, bad, other

    def _check(self) -> tuple[dict[str, dict[str, Any]], dict[str, str], dict[str, str]]:
        """Read the form and show every problem under its field."""
        data, bad, other = self._read()
        for key, row in self._rows.items():
            row.show_error(bad.get(key) or other.get(key))
        return data, bad, other

    def _first(self, problems: dict[str, str]) -> str:
        """The key of the first problem in form order."""
        return next(key for key in self._rows if key in problems)

    def _focus_row(self, key: str) -> None:
        row = self._rows[key]
        for collapsible in row.ancestors_with_self:
            if isinstance(collapsible, Collapsible):
                collapsible.collapsed = False
        # Expanding shows the row only after the next refresh; focus it then.
        self.call_after_refresh(row.control.focus)

    def _texts(self) -> dict[str, str]:
        return {key: row.text() for key, row in self._rows.items()}

    @on(Input.Changed)
    @on(Input.Blurred)
    @on(Switch.Changed)
    @on(Select.Changed)
    def _form_changed(self) -> None:
        self._check()
        if self._tested is not None and self._tested != self._texts():
            # The result no longer describes the form: drop it (and a late answer).
            self._tested = None
            self.workers.cancel_group(self, "settings-test")
            self._show_status("")

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.focus_next()

    def _show_status(self, text: str, state: str | None = None) -> None:
        status = self.query_one("#settings-status", Static)
        status.update(text)
        status.set_class(state == "ok", "-ok")
        status.set_class(state == "error", "-error")
        status.set_class(state == "warning", "-warning")

    # --- actions ----------------------------------------------------------

    @on(Button.Pressed, "#settings-test")
    def action_test_connection(self) -> None:
        """Check the account with the form's values, in a worker; show the outcome."""
        data, bad, _other = self._check()
        # Only values that do not parse stop the test. Plain http to a remote host
        # is left to the client, so the test shows the refusal the dashboard
        # would meet; a missing PIN is reported by resolve_password.
        if bad:
            self._show_status("Fix the settings marked in red first", "error")
            self._focus_row(self._first(bad))
            return
        api = ApiSettings(**_with_pin(data)["api"])
        if not api.url or not api.login:
            self._show_status("Enter the API URL and your login first", "error")
            self._focus_row("api.url" if not api.url else "api.login")
            return
        self._tested = self._texts()
        self._show_status(f"Testing the connection to {plain(api.url)}…")
        self.run_worker(
            self._test_connection(api),
            group="settings-test",
            exclusive=True,
            exit_on_error=False,
        )

    async def _test_connection(self, api: ApiSettings) -> None:
        pin = Secret("")
        try:
            pin = await asyncio.to_thread(resolve_password, api)
            credentials = Credentials(api.login, pin)
            async with ApiClient(
                api.url,
                credentials,
                timeout=api.timeout,
                allow_insecure_http=api.allow_insecure_http,
                proxy_plain_http=api.proxy_plain_http,
                ca_file=api.ca_file,
            ) as client:
                account = await client.account_status()
        except (LinkdeckError, SettingsError, httpx.InvalidURL, httpx.HTTPError) as error:
            self._show_status(describe_failure(error, pin), "error")
            return
        kind = plain(account.type, 20)
        text = f"ok: {plain(account.account_name, 60)}, {kind}"
        # Said now, before the first link fails on it.
        if not account.can_download:
            self._show_status(
                f"{text}, but this {kind} account cannot download: links fail with 402", "warning"
            )
        elif account.fairuse_left <= 0:
            self._show_status(
                f"{text}, but no fair use is left: links wait (509) until some is back", "warning"
            )
        else:
            self._show_status(f"{text}, fair use {percent(account.fairuse_left)} left", "ok")

    @on(Button.Pressed, "#settings-save")
    async def action_save(self) -> None:
        """Validate, write the file, hand the settings to the app, leave."""
        if self._saving:
            return
        self._save_attempted = True
        data, bad, other = self._check()
        problems = bad | other
        if problems:
            count = len(problems)
            noun = "setting needs" if count == 1 else "settings need"
            self.notify(f"{count} {noun} fixing: see the red lines", severity="error")
            self._show_status(f"Not saved: {count} {noun} fixing", "error")
            self._focus_row(self._first(problems))
            return
        # Ctrl+s is handled on the app's queue and the button on the screen's:
        # this flag keeps the two from saving twice.
        self._saving = True
        try:
            new = settings_from_dict(_with_pin(data), base=self.settings)
            await asyncio.to_thread(save_settings, new, self.config_path)
        except SettingsError as error:
            # The form stays as it is: nothing the user typed is lost.
            self._saving = False
            self._show_status(f"Not saved: {error.labelled}", "error")
            self.notify(
                error.labelled,
                title="Settings not saved",
                severity="error",
                timeout=15,
                markup=False,
            )
            return
        self.notify(f"Settings saved to {self.config_path}", timeout=3, markup=False)
        self.dismiss(new)  # the new settings: whoever opened the form applies them

    @on(Button.Pressed, "#settings-cancel")
    def action_cancel(self) -> None:
        """Leave without saving."""
        self.dismiss(None)

    @on(Button.Pressed, "#settings-quit")
    def _quit(self) -> None:
        self.app.exit()
