"""Files shipped with the package, found from a wheel or an editable checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def styles_dir() -> Path:
    """The stylesheets: inside the package when installed from a wheel,
    beside it (the repository's styles/) in an editable install."""
    for candidate in (_PACKAGE / "styles", _PACKAGE.parent / "styles"):
        if (candidate / "app.tcss").is_file():
            return candidate
    raise FileNotFoundError("linkdeck's stylesheets are missing from this installation")
