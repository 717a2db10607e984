"""What every command needs: the profile the command line asks for, exit
codes and one-sentence errors on stderr."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import IntEnum

from tui.api import (
    ApiError,
    CaFileError,
    InsecureTransport,
    LinkdeckError,
    LoginFailed,
    MalformedResponse,
    TransportError,
    UntrustedCertificate,
)
from tui.core import Profile, fallback_profile, open_profile
from tui.core.log_file import LogFile
from tui.settings import SettingsError


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    LOGIN_FAILED = 3
    UNREACHABLE = 4
    INTERRUPTED = 130
    """Ctrl-C (SIGINT), as a shell reports a process it ended."""
    TERMINATED = 143
    """SIGTERM (`kill`, `timeout`, a service manager), as a shell reports it."""


def flag_overrides(args: argparse.Namespace) -> dict[str, object]:
    overrides: dict[str, object] = {}
    if getattr(args, "api_url", None):
        overrides["api.url"] = args.api_url
    if getattr(args, "login", None):
        overrides["api.login"] = args.login
    if getattr(args, "no_mouse", False):
        overrides["ui.mouse"] = False
    return overrides


@contextmanager
def profile_of(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> Iterator[Profile]:
    """The profile the command line asks for (see `tui.core.open_profile`).

    Raises SettingsError when the configuration cannot be used.
    """
    with open_profile(
        getattr(args, "config", None),
        flag_overrides(args),
        demo=getattr(args, "demo", False),
        env=env,
    ) as profile:
        yield profile


def defaults_profile(
    args: argparse.Namespace, error: SettingsError, env: Mapping[str, str] = os.environ
) -> Profile:
    """Defaults, for a dashboard that opens on a config file it cannot use."""
    return fallback_profile(getattr(args, "config", None), error, env)


def exit_code_for(error: BaseException) -> ExitCode:
    if isinstance(error, LoginFailed):
        return ExitCode.LOGIN_FAILED
    if isinstance(error, TransportError | MalformedResponse):
        return ExitCode.UNREACHABLE
    if isinstance(error, ApiError) and error.status is not None and error.status >= 500:
        return ExitCode.UNREACHABLE
    if isinstance(error, SettingsError | InsecureTransport | CaFileError):
        return ExitCode.USAGE
    return ExitCode.FAILED


def explain(error: BaseException) -> str:
    """One sentence for stderr."""
    if isinstance(error, LoginFailed):
        return "login failed: check the login and PIN in your settings"
    if isinstance(error, UntrustedCertificate):
        return str(error)
    if isinstance(error, TransportError):
        return f"the service is unreachable: {error.server_message}"
    if isinstance(error, MalformedResponse):
        return f"the service sent a malformed answer: {error.server_message}"
    if isinstance(error, ApiError):
        return f"the service answered {error}"
    return str(error)


def report(error: BaseException) -> ExitCode:
    """Print `error` as one sentence on stderr and return its exit code."""
    print(f"linkdeck: {explain(error)}", file=sys.stderr)
    return exit_code_for(error)


def print_warnings(profile: Profile) -> None:
    for warning in profile.warnings:
        print(f"linkdeck: warning: {warning}", file=sys.stderr)


def run_command(args: argparse.Namespace, run: Callable[[Profile, LogFile], Awaitable[int]]) -> int:
    """Run a command: its profile and log file opened, its failures said in
    one sentence each, Ctrl-C exit 130."""
    try:
        with (
            profile_of(args) as profile,
            LogFile(profile.log_path, debug=getattr(args, "debug", False)) as log,
        ):
            print_warnings(profile)
            return asyncio.run(run(profile, log))
    except (LinkdeckError, SettingsError) as error:
        return report(error)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        sys.stderr.close()
        return ExitCode.OK
    except Exception as error:
        said = report_history_error(error)
        if said is None:
            raise
        return said


def report_history_error(error: Exception) -> ExitCode | None:
    """Say why the unlock history cannot be used, if that is what `error` is.
    Imported only then: the commands that never open it do not load it."""
    from tui.unlock.history import HistoryDamaged, HistoryError

    if isinstance(error, HistoryDamaged):
        # Left in place: a script must not go on with a new, empty history unseen.
        print(
            f"linkdeck: cannot use the unlock history: {error}; it was left as it is "
            "(the dashboard moves it aside and starts a new one)",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    if isinstance(error, HistoryError):
        print(f"linkdeck: cannot use the unlock history: {error}", file=sys.stderr)
        return ExitCode.USAGE
    return None
