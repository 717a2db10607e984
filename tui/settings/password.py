"""Getting a secret at the point of use: the PIN, aria2's secret; from the
settings or from a command that prints it."""

from __future__ import annotations

import os
import shlex
import subprocess

from tui.secret import Secret

from .model import ApiSettings, Aria2Settings, SettingsError

__all__ = ["resolve_aria2_secret", "resolve_password"]


def resolve_password(api: ApiSettings, timeout: float = 10) -> Secret:
    """The PIN: ``api.password`` if set, else the first line (stripped) that
    ``api.password_command`` prints. The command is split with ``shlex`` and run
    without a shell, with no input; its stderr is discarded.

    Blocks for up to ``timeout`` seconds: call it from a worker thread in the UI.
    Raises ``SettingsError`` (key ``api.password_command``) on failure; messages
    never include the command line or anything it printed.
    """
    if api.password:
        return Secret(api.password)
    if not api.password_command.strip():
        raise SettingsError(
            "no PIN is set: set api.password or api.password_command, or LINKDECK_PASSWORD",
            key="api.password",
        )
    return _run_secret_command(api.password_command, "api.password_command", timeout)


def resolve_aria2_secret(aria2: Aria2Settings, timeout: float = 10) -> Secret:
    """aria2's secret: ``aria2.secret`` if set (``LINKDECK_ARIA2_SECRET`` sets it),
    else the first line (stripped) that ``aria2.secret_command`` prints, else
    none (an empty `Secret`: an aria2 without ``--rpc-secret``).

    Blocks for up to ``timeout`` seconds, and raises as `resolve_password` does.
    """
    if aria2.secret or not aria2.secret_command.strip():
        return Secret(aria2.secret)
    return _run_secret_command(aria2.secret_command, "aria2.secret_command", timeout)


def _run_secret_command(command: str, key: str, timeout: float) -> Secret:
    """The first line ``command`` prints, run without a shell; problems are
    ``SettingsError`` of ``key`` that never include the command or its output."""
    name = key.partition(".")[2]
    try:
        argv = shlex.split(command)
    except ValueError:
        raise SettingsError(f"{name} has unbalanced quotes", key=key) from None
    program = os.path.basename(argv[0])
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SettingsError(f"{name} timed out after {timeout:g} s", key=key) from None
    except FileNotFoundError:
        raise SettingsError(f'{name} not found: no program "{program}"', key=key) from None
    except PermissionError:
        raise SettingsError(
            f'{name} cannot be run: "{program}" is not executable', key=key
        ) from None
    except OSError as error:
        why = (error.strerror or type(error).__name__).lower()
        raise SettingsError(f"{name} cannot be run: {why}", key=key) from None
    # The output is the secret: out of the CompletedProcess (whose repr shows it) at once.
    output, proc.stdout = proc.stdout, b""
    if proc.returncode < 0:
        raise SettingsError(f"{name} failed (killed by signal {-proc.returncode})", key=key)
    if proc.returncode != 0:
        raise SettingsError(f"{name} failed (exit {proc.returncode})", key=key)
    return _first_line(output, key)


def _first_line(output: bytes, key: str) -> Secret:
    """The stripped first line of a secret command's output, as a Secret."""
    name = key.partition(".")[2]
    try:
        lines = output.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise SettingsError(f"{name} printed something that is not UTF-8", key=key) from None
    secret = Secret(lines[0].strip() if lines else "")
    del lines
    if not secret:
        raise SettingsError(f"{name} printed nothing on its first line", key=key)
    return secret
