"""`linkdeck` with no subcommand: the dashboard."""

from __future__ import annotations

import argparse

from tui.commands.common import ExitCode, open_profile, report
from tui.settings import SettingsError


def run_dashboard(args: argparse.Namespace) -> int:
    try:
        with open_profile(args) as profile:
            from tui.app import LinkdeckApp

            app = LinkdeckApp(profile)
            app.run(mouse=profile.settings.ui.mouse)
            return app.return_code or ExitCode.OK
    except SettingsError as error:
        return report(error)
