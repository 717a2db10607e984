"""Widgets whose first frame goes without some of their parts.

The dashboard's first frame shows what is cached (the account, the hoster
rows) as early as it can; an input, a progress bar or the log's table are
mounted right after it, by `build`. What needs such a part before then waits
for it (`when_built`) rather than failing.
"""

from __future__ import annotations

from collections.abc import Callable


class LaterParts:
    """Mix into a widget (first) whose `_build_parts` mounts the parts its
    first frame goes without."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.built = False
        """Whether the later parts are mounted."""
        self._building = False
        self._waiting: list[Callable[[], object]] = []

    async def build(self) -> None:
        """Mount the later parts (once), then run what waited for them."""
        if self.built or self._building:
            return
        self._building = True
        await self._build_parts()
        self.built = True
        self._on_built()
        waiting, self._waiting = self._waiting, []
        for callback in waiting:
            callback()

    def when_built(self, callback: Callable[[], object]) -> None:
        """Call `callback` once the later parts are mounted (at once if they are)."""
        if self.built:
            callback()
        else:
            self._waiting.append(callback)

    async def _build_parts(self) -> None:
        """Mount the parts: each widget that mixes this in says which (the
        account panel, the hosters region and the unlock log all do)."""
        raise TypeError(f"{type(self).__name__} mixes in LaterParts but builds no parts")

    def _on_built(self) -> None:
        """Show what the parts show, now that they are there."""
