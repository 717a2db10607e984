"""The hoster list cached on disk, so the table fills at once on start."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from tui.api import ApiError, ConnectionSettings, HosterList
from tui.api.parse import parse_hoster_list


def save_hosters(path: Path, hosters: HosterList, fetched_at: float) -> None:
    """Write the list atomically; a failure to cache is not worth an error."""
    result = {
        "hosters": {
            h.name: {"tlds": list(h.tlds), "regexes": list(h.regexes)} for h in hosters.hosters
        },
        "connection_settings": _settings_json(hosters),
    }
    body = json.dumps({"status": 200, "statusmessage": "OK", "result": result, "at": fetched_at})
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(body, encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass


def load_hosters(path: Path) -> tuple[HosterList, float] | None:
    """The cached list and when it was fetched, or None if there is no usable cache."""
    try:
        body = path.read_bytes()
        fetched_at = float(json.loads(body).get("at", 0))
        return parse_hoster_list(200, body), fetched_at
    except (OSError, ValueError, AttributeError, TypeError, ApiError):
        return None


def _settings_json(hosters: HosterList) -> dict[str, dict[str, object]]:
    settings: dict[str, ConnectionSettings | None] = {
        h.name: h.connection_settings for h in hosters.hosters
    }
    settings["all"] = hosters.default_connection_settings
    return {name: asdict(value) for name, value in settings.items() if value is not None}
