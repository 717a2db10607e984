"""`linkdeck status`: the account, as text or JSON."""

from __future__ import annotations

import argparse
import json
import time

from tui import formatting
from tui.api import AccountStatus
from tui.commands.common import ExitCode
from tui.core import Profile, client_for
from tui.untrusted import plain


async def run_status(args: argparse.Namespace, profile: Profile) -> ExitCode:
    async with client_for(profile.settings) as client:
        account = await client.account_status()
    print(account_json(account) if args.json else account_text(account, time.time()))
    return ExitCode.OK


def account_json(account: AccountStatus) -> str:
    return json.dumps(
        {
            "account_name": account.account_name,
            "type": account.type,
            "can_download": account.can_download,
            "expires": account.expires,
            "fairuse_left": account.fairuse_left,
        }
    )


def account_text(account: AccountStatus, now: float) -> str:
    can = "can download" if account.can_download else "cannot download"
    rows = [
        ("account", plain(account.account_name, 80)),
        ("type", f"{plain(account.type, 40)} ({can})"),
        ("expires", formatting.expiry(account.expires, now)),
        ("fair use", f"{formatting.percent(account.fairuse_left)} left"),
    ]
    return "\n".join(f"{label:<9} {value}" for label, value in rows)
