"""`linkdeck` with no subcommand: the dashboard."""

from __future__ import annotations

import argparse

from tui.commands.common import ExitCode, Profile, fallback_profile, open_profile
from tui.settings import SettingsError


def run_dashboard(args: argparse.Namespace) -> int:
    try:
        with open_profile(args) as profile:
            return run_app(profile)
    except SettingsError as error:
        # The dashboard still opens: it shows the error and the settings screen.
        return run_app(fallback_profile(args, error))


def run_app(profile: Profile) -> int:
    from tui.app import LinkdeckApp
    from tui.terminal import run_in_terminal

    app = LinkdeckApp(profile)
    # SIGTERM and SIGHUP end it with 128 + the signal's number, a lost terminal
    # as SIGHUP would.
    run_in_terminal(app, mouse=profile.settings.ui.mouse)
    return app.return_code or ExitCode.OK
