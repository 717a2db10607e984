"""`linkdeck hosters`: the hoster list, or which hoster serves a URL."""

from __future__ import annotations

import argparse
import json
import sys

from tui.api import Hoster, HosterList, HosterMatcher, invalid_summary
from tui.commands.common import ExitCode
from tui.core import Profile, client_for
from tui.untrusted import plain


async def run_hosters(args: argparse.Namespace, profile: Profile) -> ExitCode:
    async with client_for(profile.settings) as client:
        hosters = await client.hoster_list()
    matcher = HosterMatcher(hosters.hosters)
    if matcher.invalid_count:
        print(
            f"linkdeck: warning: skipped {invalid_summary(matcher.invalid)}",
            file=sys.stderr,
        )
    if args.match is not None:
        return print_match(args, matcher)
    if args.json:
        print(json.dumps([hoster_json(hoster, hosters) for hoster in hosters.hosters]))
    else:
        print(hosters_text(hosters))
    return ExitCode.OK


def print_match(args: argparse.Namespace, matcher: HosterMatcher) -> ExitCode:
    hoster = matcher.match(args.match)
    if hoster is None:
        print("linkdeck: no hoster serves this URL", file=sys.stderr)
        return ExitCode.FAILED
    print(json.dumps({"name": hoster.name}) if args.json else plain(hoster.name, 200))
    return ExitCode.OK


def hoster_json(hoster: Hoster, hosters: HosterList) -> dict[str, object]:
    entry: dict[str, object] = {
        "name": hoster.name,
        "tlds": list(hoster.tlds),
        "regexes": list(hoster.regexes),
    }
    settings = hoster.connection_settings or hosters.default_connection_settings
    if settings is not None:
        entry["connection_settings"] = {
            "max_connections_per_file": settings.max_connections_per_file,
            "max_connections_per_hoster": settings.max_connections_per_hoster,
            "resume": settings.resume,
        }
    return entry


def hosters_text(hosters: HosterList) -> str:
    rows = [
        f"{plain(h.name, 40):<28} {len(h.regexes):>2} pattern(s)  {plain(', '.join(h.tlds), 60)}"
        for h in hosters.hosters
    ]
    rows.append(f"{len(hosters.hosters)} hosters")
    return "\n".join(rows)
