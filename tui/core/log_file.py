"""The log file: what went wrong, for the user to read or send, never the PIN.

Records of linkdeck (and, with `--debug`, of httpx) go to a rotating file
under the state directory, mode 0600, never through a link nor into a FIFO.
Every record is scrubbed of the PIN as a URL carries it (`params[pass]=`),
whoever logged it, and of the PINs registered, when they are long enough to
be told from a date or a port. Logging never breaks the program nor writes on
the terminal: a file that cannot be written loses records, not the dashboard.
"""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

from tui.api.redact import redact, redact_url
from tui.safe_files import open_file
from tui.secret import Secret

MAX_BYTES = 1024 * 1024
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOGGERS = ("tui", "httpx", "httpcore")
SCRUBBED_LENGTH = 8
"""Shorter PINs are not looked for as bare text: a 4-digit one is in every
timestamp of its year. The client never puts the PIN in a message; URLs are
scrubbed by their shape whatever the PIN's length."""


class _PrivateRotatingFile(RotatingFileHandler):
    """A rotating file readable by its owner only, failing silently."""

    def _open(self):  # type: ignore[no-untyped-def]
        stream = open(  # noqa: SIM115 - the handler owns and closes it
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=lambda path, flags: open_file(Path(path), flags, "log"),
        )
        os.fchmod(stream.fileno(), 0o600)  # a file made before, by another umask
        return stream

    def handleError(self, record: logging.LogRecord) -> None:
        # The default prints a traceback on stderr: over the dashboard's screen.
        pass


class _Scrub(logging.Formatter):
    """Formats a record, then takes every secret it was given out of the text."""

    def __init__(self, secrets: list[Secret]) -> None:
        super().__init__(FORMAT)
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        text = redact_url(super().format(record))
        for secret in self.secrets:
            text = redact(text, secret)
        return text


class LogFile:
    """The log file of one run: `start` it, `forget_secrets`/`add_secret` as the
    PIN changes, `stop` at the end."""

    def __init__(self, path: Path, *, debug: bool = False) -> None:
        self.path = path
        self.debug = debug
        self._secrets: list[Secret] = []
        self._handler: logging.Handler | None = None
        self.problem: str | None = None
        """Why the file cannot be written, when it cannot."""

    def start(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if self.path.exists() or self.path.is_symlink():
                os.close(open_file(self.path, os.O_WRONLY | os.O_APPEND, "log"))  # usable?
            # Made at the first record: a run with nothing to say leaves no file.
            handler = _PrivateRotatingFile(
                self.path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
            )
        except OSError as error:
            self.problem = f"the log file {self.path} cannot be written: {error.strerror or error}"
            # Else Python's last resort prints the records on the terminal.
            self._handler = logging.NullHandler()
            logging.getLogger("tui").addHandler(self._handler)
            return
        handler.setFormatter(_Scrub(self._secrets))
        level = logging.DEBUG if self.debug else logging.WARNING
        handler.setLevel(level)
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(handler)
            if name == "tui" or self.debug:
                logger.setLevel(level)
        self._handler = handler

    def add_secret(self, secret: Secret) -> None:
        if len(secret.reveal()) >= SCRUBBED_LENGTH and secret not in self._secrets:
            self._secrets.append(secret)

    def __enter__(self) -> LogFile:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._handler is None:
            return
        for name in LOGGERS:  # removing a handler that is not there does nothing
            logging.getLogger(name).removeHandler(self._handler)
        self._handler.close()
        self._handler = None
