"""The dashboard's footer: the keys that matter first, and only keys that work here.

Textual's footer lists the keys in the order of the focus chain (the focused
widget's, the screen's, then the app's), so at 80 columns the app's keys, help
among them, fall off its end. This one lists them in the order it is given.
While an input has focus, a letter types itself: the footer then shows the
input's own keys (Enter, Escape) and no letter key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.keys import _character_to_key
from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey

if TYPE_CHECKING:
    from textual.screen import Screen
    from textual.widget import Widget

PALETTE_LABEL = "more"
"""The command palette's key: every action by name, more than the footer shows
(Textual says "palette", which tells a newcomer nothing)."""
COMPACT_BELOW = 120
"""Narrower than this (in columns), the footer is compact."""
TYPED_KEYS = frozenset(_character_to_key(chr(code)) for code in range(32, 127))
"""Keys an input takes as text: their bindings do nothing while it has focus."""


class KeysFooter(Footer):
    """Textual's footer recomposes (a dozen keys mounted again) whenever the
    bindings may have changed: at every focus change, twice. Here it does so
    only when what it shows changed, which a move between the dashboard's
    tables seldom does."""

    def __init__(
        self,
        order: Sequence[str] = (),
        *,
        hidden: Callable[[str], bool] = lambda _binding_id: False,
        **kwargs: object,
    ) -> None:
        """`order`: binding ids, the most needed first; keys it does not name
        come after them, in Textual's order. `hidden`: whether a key that
        works (its binding id) is left out for now."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._rank = {binding_id: rank for rank, binding_id in enumerate(order)}
        self._hidden = hidden
        self._shown: tuple[object, ...] | None = None

    def on_resize(self) -> None:
        # Narrow, one space between the keys rather than two: at 80 columns
        # that makes room for two more.
        self.compact = self.size.width < COMPACT_BELOW
        self._shown = None
        self.refresh(recompose=True)  # as many keys as fit the new width

    def bindings_changed(self, screen: Screen) -> None:
        # `screen` is this footer's own (it subscribes to no other).
        if screen.app.app_focus and self.is_attached:
            shown = self._shown_keys(screen)
            if shown == self._shown:
                return
            self._shown = shown
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        palette = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        show_palette = (
            palette is not None and self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE
        )
        room = self.size.width or None  # unknown before the first layout: every key
        if room is not None and show_palette:
            # Its border, and its padding when not compact.
            border = 1 if self.compact else 2
            room -= self._width(self.app.get_key_display(palette[1]), PALETTE_LABEL) + border
        for binding, enabled, tooltip in self._listed(
            self.screen.focused, self.screen.active_bindings
        ):
            if room is not None:
                # A key that does not fit whole is left out, never cut.
                room -= self._width(self.app.get_key_display(binding), binding.description)
                if room < 0:
                    break
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
        if show_palette:
            assert palette is not None
            _, binding, enabled, _ = palette
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                PALETTE_LABEL,
                binding.action,
                classes="-command-palette",
                disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            )

    def _width(self, key_display: str, description: str) -> int:
        """The columns a key takes in the footer, its margin included (as
        Textual's footer styles it: padded, or compact with one space after)."""
        return cell_len(key_display) + cell_len(description) + (2 if self.compact else 3)

    def _listed(
        self, focused: Widget | None, active: Mapping[str, ActiveBinding]
    ) -> list[tuple[Binding, bool, str]]:
        """The keys shown, in order, one per action, each with its state."""
        in_input = isinstance(focused, Input)
        listed: dict[str, tuple[Binding, bool, str]] = {}
        for key, (_, binding, enabled, tooltip) in active.items():
            if not binding.show or (in_input and key in TYPED_KEYS):
                continue
            if binding.id and self._hidden(binding.id):
                continue
            listed.setdefault(binding.action, (binding, enabled, tooltip))
        unranked = len(self._rank)
        return sorted(
            listed.values(), key=lambda shown: self._rank.get(shown[0].id or "", unranked)
        )

    def _shown_keys(self, screen: Screen) -> tuple[object, ...]:
        """What the footer would show: the bindings it lists, each with its state."""
        palette = screen.active_bindings.get(screen.app.COMMAND_PALETTE_BINDING)
        return (*self._listed(screen.focused, screen.active_bindings), palette)
