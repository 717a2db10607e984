"""`linkdeck` with no subcommand: the dashboard."""

from __future__ import annotations

import argparse
import sys

from tui.commands.common import ExitCode, defaults_profile, profile_of
from tui.core import Profile
from tui.settings import SettingsError

NO_TERMINAL = (
    "linkdeck: the dashboard needs a terminal, and {stream} is not one; "
    "in scripts use linkdeck status, hosters or unlock"
)


def run_dashboard(args: argparse.Namespace) -> int:
    # Textual reads keys from stdin and draws on stderr. Without a terminal
    # there it would draw into a file or read end-of-file in a loop for ever.
    for stream in (sys.stdin, sys.stderr):
        if stream is None or not stream.isatty():
            name = "standard input" if stream is sys.stdin else "standard error"
            print(NO_TERMINAL.format(stream=name), file=sys.__stderr__ or sys.stdout)
            return ExitCode.USAGE
    try:
        with profile_of(args) as profile:
            return run_app(profile, debug=getattr(args, "debug", False))
    except SettingsError as error:
        # The dashboard still opens: it shows the error and the settings screen.
        return run_app(defaults_profile(args, error), debug=getattr(args, "debug", False))


def run_app(profile: Profile, *, debug: bool = False) -> int:
    from tui.app import LinkdeckApp
    from tui.core.log_file import LogFile
    from tui.terminal import run_in_terminal

    with LogFile(profile.log_path, debug=debug) as log_file:
        app = LinkdeckApp(profile, log_file=log_file)
        # SIGTERM and SIGHUP end it with 128 + the signal's number, a lost terminal
        # as SIGHUP would.
        run_in_terminal(app, mouse=profile.settings.ui.mouse)
    return app.return_code or ExitCode.OK
