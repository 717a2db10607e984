"""`linkdeck emulator`: serve the legacy API locally until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from tui.commands.common import ExitCode
from tui.emulator import Emulator, ScenarioError, load_scenario
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
    try:
        emulator.start()
    except (OSError, ValueError) as error:  # a host name that is no host (UnicodeError) too
        why = getattr(error, "strerror", None) or str(error)
        print(f"linkdeck: cannot listen on {args.host}:{args.port}: {why}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        with _ca_file(emulator, args.ca_out) as ca_file:
            trust = f" (its CA certificate: {plain(str(ca_file))})" if ca_file else ""
            print(f"linkdeck emulator listening on {emulator.url}{trust}", flush=True)
            stop.wait()
    except OSError as error:
        where = plain(str(error.filename or args.ca_out or "a temporary file"))
        why = error.strerror or str(error)
        print(f"linkdeck: cannot write the CA certificate to {where}: {why}", file=sys.stderr)
        return ExitCode.USAGE
    finally:
        emulator.stop()
    return ExitCode.OK


@contextlib.contextmanager
def _ca_file(emulator: Emulator, path: str | None) -> Iterator[Path | None]:
    """The CA certificate of a TLS emulator, written where asked (and left
    there), or to a new temporary folder removed at the end."""
    if not emulator.tls:
        yield None
        return
    if path is not None:
        target = Path(path).expanduser().absolute()
        _write_replacing(target, emulator.ca_pem)
        yield target
        return
    with tempfile.TemporaryDirectory(prefix="linkdeck-emulator-") as folder:
        target = Path(folder) / "ca.pem"
        target.write_bytes(emulator.ca_pem)
        yield target


def _write_replacing(path: Path, data: bytes) -> None:
    """Write `data` to the file at `path` (or where its link points) at once: a
    client reading it never sees half a certificate, a failed write leaves the
    old file, and a device, FIFO or folder there is refused, never replaced.
    OSError names `path`."""
    target = Path(os.path.realpath(path))
    try:
        if target.exists() and not target.is_file():
            raise IsADirectoryError(errno.EISDIR, "it is not a regular file", str(path))
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)  # a certificate is public; the key never leaves memory
        os.replace(temporary, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise OSError(error.errno, error.strerror, str(path)) from None
