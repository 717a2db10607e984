"""One row of the settings form: label, control, help line and inline error.

The row is generated from a ``SettingField``; it knows how to show a value and
how to read it back, and delegates every rule to ``tui.settings.coerce`` so
the form and the config file can never disagree about what is valid.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from tui.settings import SettingField, coerce

__all__ = ["SettingRow", "field_label", "format_value"]


def field_label(field: SettingField) -> str:
    """The label shown for ``field``: "Account interval" for ``refresh.account_interval``."""
    return field.label


def format_value(value: object) -> str:
    """A setting's value as the user would type it (``60`` rather than ``60.0``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class SettingRow(Vertical):
    """Edits one setting. Read it with ``value()``; show a problem with ``show_error()``."""

    DEFAULT_CSS = """
    SettingRow {
        height: auto;
        margin-bottom: 1;
        & > Horizontal { height: auto; }
        & .setting-label { width: 20; padding-right: 1; text-style: bold; }
        & Input, & Select { width: 1fr; }
        /* Compact inputs have no border: a shade marks where to type. */
        & Input { background: $boost; padding: 0 1; }
        & Input:focus { background-tint: $foreground 10%; }
        /* A bordered Switch is three lines high; one line keeps the form compact. */
        & Switch { border: none; height: 1; padding: 0 1; }
        & Switch:focus { border: none; background-tint: $foreground 15%; }
        & .setting-help, & .setting-error { margin-left: 20; }
        & .setting-help { color: $text-muted; }
        & .setting-error { color: $text-error; text-style: bold; display: none; }
        &.-invalid .setting-error { display: block; }
    }
    """

    def __init__(
        self,
        field: SettingField,
        value: object,
        *,
        choices: Sequence[str] = (),
        note: str | None = None,
    ) -> None:
        """``choices`` turns a text field into a Select (the theme); ``note`` is
        appended to the help line (e.g. that an environment variable set it)."""
        super().__init__(id=f"row-{field.section}-{field.name}")
        self.field = field
        self._help = f"{field.help}. {note}" if note else field.help
        self.control = self._make_control(value, choices)
        self.error: str | None = None
        """The problem shown under the field, if any."""

    def _make_control(self, value: object, choices: Sequence[str]) -> Widget:
        field = self.field
        control_id = f"setting-{field.section}-{field.name}"
        if field.type is bool:
            return Switch(bool(value), id=control_id)
        if choices:
            options = [(name, name) for name in choices]
            if value not in choices:
                # Keep a value we do not know (a theme from a plugin, a typo in the
                # file) selectable, so opening and saving never changes it silently.
                options.insert(0, (f"{value} (not available)", str(value)))
            return Select(options, value=str(value), allow_blank=False, id=control_id, compact=True)
        return Input(
            format_value(value),
            password=field.secret,
            compact=True,
            # The row validates (some rules span several fields); Input must not
            # toggle its own -invalid class behind our back.
            validate_on=(),
            id=control_id,
        )

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(field_label(self.field), classes="setting-label")
            yield self.control
        yield Static(self._help, classes="setting-help", markup=False)
        yield Static("", classes="setting-error", markup=False)

    def value(self) -> object:
        """The typed value of the control; raises ``SettingsError`` when it is not valid."""
        raw = self.control.value if isinstance(self.control, Switch) else self.text()
        return coerce(self.field.key, raw, from_text=True)

    def text(self) -> str:
        """What the control currently holds, as text (compared to spot changes)."""
        control = self.control
        if isinstance(control, Input):
            return control.value
        return str(control.value)

    def show_error(self, message: str | None) -> None:
        """Show ``message`` under the field in red, or clear it with ``None``."""
        if message == self.error:
            return  # the form re-checks every row on each key: skip needless repaints
        self.error = message
        self.set_class(message is not None, "-invalid")
        if isinstance(self.control, Input):
            self.control.set_class(message is not None, "-invalid")
        self.query_one(".setting-error", Static).update(message or "")
