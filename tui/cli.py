"""The `linkdeck` command: the dashboard, or a headless subcommand."""

from __future__ import annotations

import argparse
import gc
import io
import sys
from collections.abc import Sequence

from tui import __version__
from tui.commands.emulator_options import add_download_options


def add_profile_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options that choose the profile; accepted before and after the subcommand."""
    default = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("--config", metavar="PATH", help="config file to use", **default)
    parser.add_argument(
        "--api-url", metavar="URL", help="API endpoint, overrides the config", **default
    )
    parser.add_argument(
        "--login", metavar="ID", help="customer id, overrides the config", **default
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run against the built-in emulator with a demo account and a throw-away profile",
        **default,
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="write every step, HTTP requests included (PIN hidden), to the log file",
        **default,
    )


def port_number(text: str) -> int:
    """A TCP port for argparse: 0 (any free one) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is from 0 to 65535, not {port}")
    return port


MAX_ITEM_ID = 2**63 - 1
"""SQLite's largest integer."""


def item_id(text: str) -> int:
    """An item's id for argparse: a whole number from 1."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an item id: {text!r}") from None
    if not 1 <= number <= MAX_ITEM_ID:
        raise argparse.ArgumentTypeError(f"an item id is from 1 to {MAX_ITEM_ID}, not {text}")
    return number


def looks_like_a_link(value: str) -> bool:
    """What `unlock --download VALUE` takes for a link rather than a folder."""
    return value == "-" or "://" in value


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser, and the parser of each command by its name."""
    parser = argparse.ArgumentParser(
        prog="linkdeck",
        description="Terminal dashboard for a multi-hoster premium link service.",
        epilog="The PIN is read from the config, LINKDECK_PASSWORD or password_command, "
        "never from a flag.",
    )
    parser.add_argument("--version", action="version", version=f"linkdeck {__version__}")
    add_profile_options(parser, suppress=False)
    parser.add_argument("--no-mouse", action="store_true", help="turn mouse reporting off")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = commands.add_parser("status", help="show the account")
    status.add_argument("--json", action="store_true", help="print JSON")
    add_profile_options(status, suppress=True)

    hosters = commands.add_parser("hosters", help="list the hosters")
    hosters.add_argument("--json", action="store_true", help="print JSON")
    hosters.add_argument("--match", metavar="URL", help="print the hoster that serves URL")
    add_profile_options(hosters, suppress=True)

    unlock = commands.add_parser("unlock", help="turn links into direct download links")
    # "*", not "+": `--download LINK` gives its link back to them (see `parse`).
    unlock.add_argument("links", nargs="*", metavar="LINK", help="links to unlock; - reads stdin")
    unlock.add_argument("--json", action="store_true", help="print one JSON object per link")
    unlock.add_argument(
        "--download",
        nargs="?",
        const="",
        metavar="DIR",
        help="download each link as it is unlocked, into DIR (default: [download] dir);"
        " a value with :// in it, or -, is a link, not a DIR",
    )
    retry = unlock.add_mutually_exclusive_group()
    retry.add_argument("--wait", action="store_true", help="wait for the retries of 5xx answers")
    retry.add_argument("--no-retry", action="store_true", help="fail 5xx answers at once")
    add_profile_options(unlock, suppress=True)

    download = commands.add_parser("download", help="download the files of unlocked items")
    download.add_argument(
        "ids",
        nargs="*",
        type=item_id,
        metavar="ITEM-ID",
        help="items of the history, by the id `unlock --json` gives",
    )
    download.add_argument(
        "--all-done", action="store_true", help="every item done unlocking and not downloaded yet"
    )
    download.add_argument("--dir", metavar="DIR", help="download into DIR, not [download] dir")
    download.add_argument("--json", action="store_true", help="print one JSON object per file")
    add_profile_options(download, suppress=True)

    emulator = commands.add_parser("emulator", help="serve the legacy API locally")
    emulator.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    emulator.add_argument(
        "--port", type=port_number, default=8765, help="port to listen on, 0 for any free one"
    )
    emulator.add_argument(
        "--latency-ms", type=int, metavar="N", help="answer every request N ms late"
    )
    emulator.add_argument(
        "--scenario", metavar="FILE", help="accounts, hosters and faults from a TOML file"
    )
    add_download_options(emulator)
    emulator.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a certificate made at start; its CA is written to a file",
    )
    emulator.add_argument(
        "--ca-out",
        metavar="PATH",
        help="with --tls, write the CA certificate here (default: a temporary file)",
    )
    return parser, dict(commands.choices)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments; an unknown one is told with the usage of the command it
    was given to, not the top level's."""
    parser, commands = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        owner = commands.get(args.command, parser)
        owner.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "unlock":
        if args.download and looks_like_a_link(args.download):
            args.links.insert(0, args.download)
            args.download = ""
        if not args.links:
            commands["unlock"].error("the following arguments are required: LINK")
    if args.command == "download" and bool(args.ids) == args.all_done:
        commands["download"].error("give ITEM-ID... or --all-done (one of them)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    # Under a LANG or PYTHONIOENCODING that cannot encode a server's text (or
    # the "…" of a cut one), a character is replaced rather than the run crashed.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
    args = parse(argv)
    if args.command == "emulator":
        from tui.commands.serve_emulator import run_emulator

        return run_emulator(args)
    if args.command in ("status", "hosters"):
        return run_headless(args)
    if args.command == "unlock":
        from tui.commands.unlock_links import main_unlock

        return main_unlock(args)
    if args.command == "download":
        from tui.commands.download_items import main_download

        return main_download(args)
    # The dashboard's start builds what lives as long as it does: the cyclic
    # collector, whose hundred young collections took 25 ms before the first
    # frame, is off until that frame is drawn (`LinkdeckApp.on_mount`).
    gc.disable()
    try:
        from tui.commands.start_dashboard import run_dashboard

        return run_dashboard(args)
    finally:
        gc.enable()


def run_headless(args: argparse.Namespace) -> int:
    from tui.commands.common import run_command
    from tui.commands.list_hosters import run_hosters
    from tui.commands.status import run_status

    commands = {"status": run_status, "hosters": run_hosters}
    return run_command(args, lambda profile, _log: commands[args.command](args, profile))
