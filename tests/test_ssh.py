"""The dashboard over a real SSH connection (issue 6, "Over a real SSH connection").

An OpenSSH server on 127.0.0.1 with keys made for the test; `ssh -tt` from a
120x40 pseudo-terminal starts tmux running `linkdeck --demo` and stays attached,
so the screen really crosses SSH. Keys go in and the screen comes out through
`tmux send-keys` / `capture-pane`, each run over SSH too. Asserted: the account
shows, a link unlocks, and `c` puts the direct link into tmux's buffer through
OSC 52 (tmux `set -s set-clipboard on`), and tmux passes the same OSC 52 on to
the terminal at our end of the SSH connection.

Needs sshd, ssh, ssh-keygen and tmux: skipped without them, except under
`CI=true`, where it fails (`.ci/run` installs them)."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import getpass
import os
import pty
import re
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

COLUMNS, LINES = 120, 40
LINK = "https://uploaded.net/file/abcd1234/x.zip"
SESSION = "deck"


def _find_tools() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in ("sshd", "ssh", "ssh-keygen", "tmux"):
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
        if path:
            found[name] = os.path.abspath(path)  # sshd re-executes itself: absolute path
    return found


TOOLS = _find_tools()
MISSING = sorted({"sshd", "ssh", "ssh-keygen", "tmux"} - TOOLS.keys())


def _require_tools() -> None:
    if not MISSING:
        return
    reason = (
        f"needs {', '.join(MISSING)} (Debian: apt-get install openssh-server "
        "openssh-client tmux; .ci/run installs them)"
    )
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"CI=true but this test {reason}", pytrace=False)
    pytest.skip(reason)


def _wait(what: str, check: Callable[[], object], timeout: float, interval: float = 0.1):
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)
        time.sleep(interval)


def _kill_group(proc: subprocess.Popen, timeout: float = 3.0) -> None:
    """End a process started in its own session, and its group: TERM, then KILL."""
    if proc.poll() is None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout)
                break
            except subprocess.TimeoutExpired:
                continue
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # stray children left in the group


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(
        [TOOLS["ssh-keygen"], "-q", "-t", "ed25519", "-N", "", "-C", "linkdeck-test", "-f", path],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )


@dataclass
class SshServer:
    port: int
    user: str
    key: Path
    log: Path
    proc: subprocess.Popen
    control: Path | None = None  # a master connection's socket, once one runs

    def argv(self, *extra: str, control: Path | None = None) -> list[str]:
        return [
            TOOLS["ssh"],
            "-F",
            "/dev/null",  # nothing from the user's ~/.ssh/config
            "-i",
            str(self.key),
            "-p",
            str(self.port),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
            "-o",
            f"ControlPath={control or 'none'}",
            *extra,
            f"{self.user}@127.0.0.1",
        ]

    def run(self, command: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
        """Run `command` on the server (no terminal), over the master connection
        when one runs: a new connection costs a key exchange and a login."""
        return subprocess.run(
            [*self.argv("-T", "-o", "ControlMaster=no", control=self.control), command],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return ""


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A short path: tmux's socket must fit a Unix socket address."""
    path = Path(tempfile.mkdtemp(prefix="linkdeck-ssh-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sshd(workdir: Path) -> Iterator[SshServer]:
    _require_tools()
    is_root = os.geteuid() == 0
    if is_root:
        # The privilege separation directory; missing when sshd never ran here.
        Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    host_key, user_key = workdir / "host_key", workdir / "user_key"
    _keygen(host_key)
    _keygen(user_key)
    authorized = workdir / "authorized_keys"
    authorized.write_text(Path(f"{user_key}.pub").read_text())
    authorized.chmod(0o600)
    port = _free_port()
    config = workdir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"ListenAddress 127.0.0.1:{port}",
                f"HostKey {host_key}",
                f"PidFile {workdir / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",  # the keys sit under /tmp, which is world-writable
                "PermitTTY yes",
                "X11Forwarding no",
                "AllowTcpForwarding no",
                "PrintMotd no",
                "PrintLastLog no",
                "LogLevel INFO",
                "",
            ]
        )
    )
    log = workdir / "sshd.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [TOOLS["sshd"], "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        server = SshServer(
            port=port,
            user="root" if is_root else getpass.getuser(),
            key=user_key,
            log=log,
            proc=proc,
        )

        def listening() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"sshd exited ({proc.returncode}):\n{server.log_tail()}")
            with socket.socket() as sock:
                sock.settimeout(0.5)
                return sock.connect_ex(("127.0.0.1", port)) == 0

        _wait("sshd to listen", listening, timeout=10, interval=0.05)
        yield server
    finally:
        _kill_group(proc)


@pytest.fixture
def ssh_master(sshd: SshServer, workdir: Path) -> Iterator[SshServer]:
    """One SSH connection that later `ssh` commands share (`ssh -M -N`)."""
    control = workdir / "ctl"
    master = subprocess.Popen(
        sshd.argv("-M", "-N", control=control),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:

        def up() -> bool:
            if master.poll() is not None:
                pytest.fail(f"ssh -M exited: {master.stderr.read().decode()}\n{sshd.log_tail()}")
            return control.is_socket()

        _wait("the ssh master connection", up, timeout=10, interval=0.05)
        sshd.control = control
        yield sshd
    finally:
        sshd.control = None
        _kill_group(master)
        if master.stderr:
            master.stderr.close()


@dataclass
class Terminal:
    """`ssh -tt` running in a local pseudo-terminal of COLUMNS x LINES: what the
    remote side sends arrives here, as it would in the user's terminal."""

    proc: subprocess.Popen
    master: int
    output: bytearray = field(default_factory=bytearray)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> bytes:
        with self.lock:
            return bytes(self.output)

    def pump(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if not ready:
                    if self.proc.poll() is not None:
                        return
                    continue
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO once the child side is closed
                return
            if not chunk:
                return
            with self.lock:
                self.output.extend(chunk)


def _spawn_in_pty(argv: list[str], env: dict[str, str]) -> Terminal:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))

    def controlling_tty() -> None:  # runs in the child after setsid
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    try:
        proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=controlling_tty,
        )
    finally:
        os.close(slave)
    term = Terminal(proc=proc, master=master)
    threading.Thread(target=term.pump, daemon=True).start()
    return term


@dataclass
class Deck:
    ssh: SshServer
    tmux: str  # the tmux command prefix on the server, with its socket
    term: Terminal

    def tmux_run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = self.ssh.run(f"{self.tmux} {shlex.join(args)}")
        if check and result.returncode != 0:
            pytest.fail(f"tmux {shlex.join(args)} over ssh failed: {result.stderr.strip()}")
        return result

    def screen(self) -> str:
        result = self.tmux_run("capture-pane", "-p", "-t", SESSION, check=False)
        return result.stdout if result.returncode == 0 else ""

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux_run("send-keys", "-t", SESSION, *(["-l"] if literal else []), *keys)

    def wait_for(self, what: str, predicate: Callable[[str], object], timeout: float = 15):
        def check():
            if self.term.proc.poll() is not None:
                pytest.fail(f"ssh -tt ended ({self.term.proc.returncode})", pytrace=False)
            screen = self.screen()
            return predicate(screen) and screen

        try:
            return _wait(what, check, timeout, interval=0.15)
        except pytest.fail.Exception as exc:
            screen = self.screen()
            if not screen.strip():  # no tmux or no app: show what came over the connection
                received = self.term.received()[-1500:].decode(errors="replace")
                screen = f"(none)\nssh -tt output:\n{received}\nsshd log:\n{self.ssh.log_tail()}"
            raise pytest.fail.Exception(f"{exc}\nlast screen:\n{screen}") from None

    def buffer(self) -> str | None:
        result = self.tmux_run("show-buffer", check=False)
        return result.stdout if result.returncode == 0 else None


@pytest.fixture
def deck(ssh_master: SshServer, workdir: Path) -> Iterator[Deck]:
    """`linkdeck --demo` in tmux on the SSH server, attached through `ssh -tt`."""
    socket_path = workdir / "tmux.sock"
    tmux_conf = workdir / "tmux.conf"
    tmux_conf.write_text(
        "set -s set-clipboard on\n"  # accept OSC 52 from the app into a buffer
        "set -s escape-time 10\n"
        "set -g status off\n"  # the pane is the whole 120x40 window
        "set -g history-limit 0\n"
    )
    tmux = f"{shlex.quote(TOOLS['tmux'])} -u -S {shlex.quote(str(socket_path))}"
    home = workdir / "home"
    home.mkdir()
    remote_env = {
        "HOME": str(home),
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        # The conftest's temporary XDG dirs: the demo's profile is throw-away anyway.
        **{k: v for k, v in os.environ.items() if k.startswith("XDG_") and k.endswith("_HOME")},
    }
    # A failing app keeps its pane (and its traceback) for a minute, for the report.
    app = (
        shlex.join([sys.executable, "-m", "tui", "--demo"])
        + '; s=$?; [ "$s" = 0 ] || { echo "linkdeck exited with $s"; sleep 60; }'
    )
    start = (
        f"cd {shlex.quote(str(home))} && exec env "
        + " ".join(f"{k}={shlex.quote(v)}" for k, v in remote_env.items())
        + f" {tmux} -f {shlex.quote(str(tmux_conf))} new-session -s {SESSION}"
        + f" -x {COLUMNS} -y {LINES} {shlex.quote(app)}"
    )
    local_env = {**os.environ, "TERM": "xterm-256color"}
    # The interactive session is a connection of its own, as a user's would be.
    term = _spawn_in_pty([*ssh_master.argv("-tt"), start], local_env)
    deck = Deck(ssh=ssh_master, tmux=tmux, term=term)
    try:
        yield deck
    finally:
        _kill_group(term.proc)
        with contextlib.suppress(OSError):
            os.close(term.master)
        # The tmux server and the app run on this machine: end them here, so this
        # works even when sshd is gone. kill-server hangs up the app's pane.
        pane_pids = subprocess.run(
            [TOOLS["tmux"], "-S", str(socket_path), "list-panes", "-a", "-F", "#{pane_pid}"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.split()
        subprocess.run(
            [TOOLS["tmux"], "-S", str(socket_path), "kill-server"],
            capture_output=True,
            timeout=10,
        )
        for pid in pane_pids:
            _end_pid(int(pid))


def _end_pid(pid: int, timeout: float = 3.0) -> None:
    """Make sure a process that is not our child (the app in tmux's pane) is gone."""
    start = time.monotonic()
    while time.monotonic() - start < 2 * timeout:  # a zombie nobody reaps: give up
        try:
            os.kill(pid, signal.SIGTERM if time.monotonic() - start < timeout else signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def test_dashboard_over_ssh_in_tmux(deck: Deck) -> None:
    # The account, drawn by the app and read back from tmux over SSH.
    screen = deck.wait_for(
        "the demo account", lambda s: "111111111" in s and "premium" in s, timeout=20
    )
    assert "can download" in screen
    size = deck.tmux_run("display-message", "-p", "-t", SESSION, "#{pane_width}x#{pane_height}")
    assert size.stdout.strip() == f"{COLUMNS}x{LINES}", "the pane has the SSH terminal's size"
    # The same screen crossed the SSH connection to our terminal.
    _wait("the account in the SSH output", lambda: b"111111111" in deck.term.received(), 10)
    assert deck.buffer() is None, "tmux has no buffer before the copy"

    # Unlock a link the emulator's default scenario answers with a direct link.
    deck.keys("u")
    time.sleep(0.3)
    deck.keys(LINK, literal=True)
    deck.wait_for("the typed link", lambda s: "uploaded.net/file/abcd1234" in s, timeout=5)
    deck.keys("Enter")
    done_row = re.compile(r"uploaded\.net\s+done\s+.*?(http://127\.0\.0\.1:\S+)")
    screen = deck.wait_for("the unlock to be done", done_row.search, timeout=15)
    shown = done_row.search(screen).group(1)  # the direct link, shortened in the middle

    # Copy: Escape leaves the input for the log, whose cursor is on the new row.
    deck.keys("Escape")
    time.sleep(0.3)
    deck.keys("c")
    copied = _wait("the copied link in tmux's buffer", deck.buffer, timeout=10, interval=0.15)
    assert copied.startswith("http://127.0.0.1:"), copied
    assert "/dl/" in copied and copied.endswith("/x.zip"), copied
    assert "\n" not in copied and "\x1b" not in copied, copied
    # The row shows the same link, shortened with "…": its pieces appear in order.
    pieces = [piece for piece in shown.split("…") if piece]
    assert copied.startswith(pieces[0]), (shown, copied)
    position = 0
    for piece in pieces:
        found = copied.find(piece, position)
        assert found != -1, (shown, copied)
        position = found + len(piece)
    deck.wait_for("the copy notice", lambda s: "Copied the direct link" in s, timeout=5)

    # tmux also hands the OSC 52 on to the outer terminal: it arrives at our end of
    # the SSH connection carrying the same link.
    encoded = base64.b64encode(copied.encode()).decode().encode()
    osc52 = re.compile(rb"\x1b\]52;[a-z]*;" + re.escape(encoded) + rb"(\x07|\x1b\\)")
    _wait("the OSC 52 in the SSH output", lambda: osc52.search(deck.term.received()), 10)

    # Quit: the app ends, so does the tmux session, and the ssh -tt session with it.
    deck.keys("q")
    try:
        code = deck.term.proc.wait(15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ssh -tt still running after q; screen:\n{deck.screen()}")
    assert code == 0, deck.term.received()[-2000:]
