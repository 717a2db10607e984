"""`linkdeck emulator`: serve the legacy API locally until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from tui.commands.common import ExitCode
from tui.commands.emulator_options import apply_download_options
from tui.emulator import Emulator, ScenarioError, load_scenario
from tui.safe_files import replace_file
from tui.untrusted import plain


def run_emulator(args: argparse.Namespace) -> ExitCode:
    if args.ca_out is not None and not args.tls:
        print("linkdeck: --ca-out is for --tls: a plain HTTP emulator has no CA", file=sys.stderr)
        return ExitCode.USAGE
    try:
        scenario = load_scenario(args.scenario) if args.scenario else None
    except (OSError, ScenarioError) as error:
        print(f"linkdeck: cannot read the scenario: {error}", file=sys.stderr)
        return ExitCode.USAGE
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    emulator = Emulator(scenario, host=args.host, port=args.port, tls=args.tls)
    if args.latency_ms is not None:
        emulator.faults.latency_ms = args.latency_ms
    apply_download_options(args, emulator.faults)
    try:
        emulator.start()
    except (OSError, ValueError) as error:  # a host name that is no host (UnicodeError) too
        why = getattr(error, "strerror", None) or str(error)
        print(f"linkdeck: cannot listen on {args.host}:{args.port}: {why}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        with _ca_file(emulator, args.ca_out) as ca_file:
            trust = f" (its CA certificate: {plain(str(ca_file))})" if ca_file else ""
            print(f"linkdeck emulator listening on {emulator.url}{trust}")
            print(accounts_line(emulator), flush=True)
            stop.wait()
    except OSError as error:
        where = plain(str(error.filename or args.ca_out or "a temporary file"))
        why = error.strerror or str(error)
        print(f"linkdeck: cannot write the CA certificate to {where}: {why}", file=sys.stderr)
        return ExitCode.USAGE
    finally:
        emulator.stop()
    return ExitCode.OK


def accounts_line(emulator: Emulator) -> str:
    """The accounts to log in as, each with its PIN (they are the emulator's own)."""
    accounts = [
        f"{plain(account.login, 40)} (PIN {plain(account.pin, 40)}, {plain(account.type, 20)}"
        + (", no fair use left" if account.fairuse_left <= 0 else "")
        + ")"
        for account in emulator.scenario.accounts
    ]
    return "accounts: " + (", ".join(accounts) or "none")


@contextlib.contextmanager
def _ca_file(emulator: Emulator, path: str | None) -> Iterator[Path | None]:
    """The CA certificate of a TLS emulator, written where asked (and left
    there), or to a new temporary folder removed at the end."""
    if not emulator.tls:
        yield None
        return
    if path is not None:
        target = Path(path).expanduser().absolute()
        # A certificate is public (0644); the key never leaves memory.
        replace_file(target, emulator.ca_pem, 0o644)
        yield target
        return
    with tempfile.TemporaryDirectory(prefix="linkdeck-emulator-") as folder:
        target = Path(folder) / "ca.pem"
        target.write_bytes(emulator.ca_pem)
        yield target
