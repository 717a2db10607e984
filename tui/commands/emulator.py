"""`linkdeck emulator`: serve the legacy API locally until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from tui.commands.common import ExitCode
from tui.emulator import Emulator, ScenarioError, load_scenario


def run_emulator(args: argparse.Namespace) -> ExitCode:
    try:
        scenario = load_scenario(args.scenario) if args.scenario else None
    except (OSError, ScenarioError) as error:
        print(f"linkdeck: cannot read the scenario: {error}", file=sys.stderr)
        return ExitCode.USAGE
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    emulator = Emulator(scenario, host=args.host, port=args.port)
    if args.latency_ms is not None:
        emulator.faults.latency_ms = args.latency_ms
    try:
        emulator.start()
    except (OSError, UnicodeError) as error:  # a host name that is no host too
        why = getattr(error, "strerror", None) or str(error)
        print(f"linkdeck: cannot listen on {args.host}:{args.port}: {why}", file=sys.stderr)
        return ExitCode.USAGE
    print(f"linkdeck emulator listening on {emulator.url}", flush=True)
    try:
        stop.wait()
    finally:
        emulator.stop()
    return ExitCode.OK
