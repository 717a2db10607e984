"""The dashboard's footer: Textual's, recomposed only when the keys it shows change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.screen import Screen


class KeysFooter(Footer):
    """Textual's footer recomposes (a dozen keys mounted again) whenever the
    bindings may have changed: at every focus change, twice. Here it does so
    only when what it shows changed, which a move between the dashboard's
    tables and inputs seldom does."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._shown: tuple[object, ...] | None = None

    def bindings_changed(self, screen: Screen) -> None:
        # `screen` is this footer's own (it subscribes to no other).
        if screen.app.app_focus and self.is_attached:
            shown = _shown_keys(screen)
            if shown == self._shown:
                return
            self._shown = shown
        super().bindings_changed(screen)


def _shown_keys(screen: Screen) -> tuple[object, ...]:
    """What the footer would show: the bindings it lists, each with its state."""
    palette = screen.app.COMMAND_PALETTE_BINDING
    return tuple(
        (key, binding, enabled, tooltip)
        for key, (_, binding, enabled, tooltip) in screen.active_bindings.items()
        if binding.show or key == palette
    )
