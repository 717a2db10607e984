"""The last hoster list and account status cached on disk, so the dashboard's
first frame shows them at once; the background refresh then replaces them.

A cache file that is a symbolic link is neither read nor written through: the
loaders raise RefusedFile (the dashboard says so once) and the writers leave
the link alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

from tui.api import AccountStatus, ApiError, ConnectionSettings, HosterList
from tui.api.parse import (
    LAST_TIMESTAMP,
    MAX_HOSTERLIST_BYTES,
    parse_account_status,
    parse_hoster_list,
)
from tui.safe_files import RefusedFile, open_file

T = TypeVar("T")


def save_hosters(path: Path, hosters: HosterList, fetched_at: float) -> None:
    """Write the list atomically; a failure to cache is not worth an error."""
    result = {
        "hosters": {
            h.name: {"tlds": list(h.tlds), "regexes": list(h.regexes)} for h in hosters.hosters
        },
        "connection_settings": _settings_json(hosters),
    }
    _write(path, result, fetched_at)


def save_account(path: Path, account: AccountStatus, fetched_at: float) -> None:
    result = {
        "account_name": account.account_name,
        "type": account.type,
        "expires": account.expires,
        "fairuse_left": account.fairuse_left,
    }
    _write(path, result, fetched_at)


def account_key(url: str, login: str) -> str:
    """One login at one API URL, named without either: what is kept per account
    (the caches, the fair-use series) is kept under this."""
    return hashlib.sha256(f"{url}\n{login}".encode("utf-8", "surrogatepass")).hexdigest()[:16]


def cache_file(folder: Path, kind: str, url: str, login: str) -> Path:
    """Where `kind` ("hosters", "account") is cached for one login at one API URL:
    after a switch of account or service, nothing of the other shows as stale."""
    return folder / f"{kind}-{account_key(url, login)}.json"


def load_account(path: Path) -> tuple[AccountStatus, float] | None:
    """The cached account and when it was fetched, or None; RefusedFile for a link."""
    return _read(path, parse_account_status)


def _write(path: Path, result: object, fetched_at: float) -> None:
    """Write an envelope atomically, readable by its owner only; a failure to
    cache is not worth an error."""
    body = json.dumps({"status": 200, "statusmessage": "OK", "result": result, "at": fetched_at})
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.is_symlink():
            return  # ignored, and left for the user to remove
        # A new file of a name nobody can guess (O_EXCL, 0600): nothing to follow.
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as fp:
                fp.write(body)
            # A rename replaces a link put at `path` meanwhile; it never writes through it.
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError:
        pass


def load_hosters(path: Path) -> tuple[HosterList, float] | None:
    """The cached list and when it was fetched, or None if there is no usable
    cache; RefusedFile if it is a symbolic link or not a regular file."""
    return _read(path, parse_hoster_list)


@dataclass(frozen=True)
class CachedStart:
    """What a start shows before the network answers: each cache as read, or
    why it was refused (None: no usable cache)."""

    hosters: HosterList | RefusedFile | None
    account: tuple[AccountStatus, float] | RefusedFile | None


def read_cache(hosters_path: Path, account_path: Path) -> CachedStart:
    """The cached hoster list and account (with when it was fetched)."""
    try:
        hosters = load_hosters(hosters_path)
    except RefusedFile as refused:
        listed: HosterList | RefusedFile | None = refused
    else:
        listed = hosters[0] if hosters is not None else None
    try:
        account: tuple[AccountStatus, float] | RefusedFile | None = load_account(account_path)
    except RefusedFile as refused:
        account = refused
    return CachedStart(listed, account)


def _read(path: Path, parse: Callable[[int, bytes], T]) -> tuple[T, float] | None:
    try:
        with os.fdopen(open_file(path, os.O_RDONLY, "cache"), "rb") as fp:
            body = fp.read(MAX_HOSTERLIST_BYTES + 1)
        fetched_at = json.loads(body).get("at")
        # As untrusted as an answer: a time no clock can show is no cache.
        if not isinstance(fetched_at, int | float) or not 0 <= fetched_at <= LAST_TIMESTAMP:
            return None
        return parse(200, body), float(fetched_at)
    except RefusedFile:
        raise
    except (OSError, ValueError, AttributeError, TypeError, ApiError):
        return None


def _settings_json(hosters: HosterList) -> dict[str, dict[str, object]]:
    settings: dict[str, ConnectionSettings | None] = {
        h.name: h.connection_settings for h in hosters.hosters
    }
    settings["all"] = hosters.default_connection_settings
    return {name: asdict(value) for name, value in settings.items() if value is not None}
