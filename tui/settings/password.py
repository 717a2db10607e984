"""Getting the PIN at the point of use: from the settings or a password command."""

from __future__ import annotations

import os
import shlex
import subprocess

from tui.secret import Secret

from .model import ApiSettings, SettingsError

__all__ = ["resolve_password"]


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
    key = "api.password_command"
    if not api.password_command.strip():
        raise SettingsError(
            "no PIN is set: set api.password or api.password_command, or LINKDECK_PASSWORD",
            key="api.password",
        )
    try:
        argv = shlex.split(api.password_command)
    except ValueError:
        raise SettingsError("password_command has unbalanced quotes", key=key) from None
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
        raise SettingsError(f"password_command timed out after {timeout:g} s", key=key) from None
    except FileNotFoundError:
        raise SettingsError(
            f'password_command not found: no program "{program}"', key=key
        ) from None
    except PermissionError:
        raise SettingsError(
            f'password_command cannot be run: "{program}" is not executable', key=key
        ) from None
    except OSError as error:
        why = (error.strerror or type(error).__name__).lower()
        raise SettingsError(f"password_command cannot be run: {why}", key=key) from None
    # The output is the PIN: out of the CompletedProcess (whose repr shows it) at once.
    output, proc.stdout = proc.stdout, b""
    if proc.returncode < 0:
        raise SettingsError(
            f"password_command failed (killed by signal {-proc.returncode})", key=key
        )
    if proc.returncode != 0:
        raise SettingsError(f"password_command failed (exit {proc.returncode})", key=key)
    return _first_line(output, key)


def _first_line(output: bytes, key: str) -> Secret:
    """The stripped first line of a password command's output, as a Secret."""
    try:
        lines = output.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise SettingsError(
            "password_command printed something that is not UTF-8", key=key
        ) from None
    pin = Secret(lines[0].strip() if lines else "")
    del lines
    if not pin:
        raise SettingsError("password_command printed nothing on its first line", key=key)
    return pin
