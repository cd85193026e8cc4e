"""Running the `standings` command as a user would: `standings up` in the background, other commands beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from services.embedded.waiting import wait_until

STANDINGS = [sys.executable, "-m", "services.cli.main"]


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user in ``home`` who has configured nothing: no STANDINGS_* settings at all."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("STANDINGS_")}
    return {**env, "STANDINGS_HOME": str(home), "STANDINGS_LOG_JSON": "false", **extra}


@dataclass
class Up:
    """A `standings up` process and everything it printed so far (stdout and stderr together)."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError("standings up exited:\n" + self.output)
            return any("ready" in line and "Ctrl-C" in line for line in self.lines)

        wait_until(ready, timeout, "standings up", interval=0.2)

    def stop(self, timeout: float = 60.0) -> int:
        """Ctrl-C, as a user would; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout)


def start_up(home: Path, *args: str, env: Mapping[str, str] | None = None) -> Up:
    proc = subprocess.Popen(
        [*STANDINGS, "up", *args],
        env=dict(env) if env is not None else user_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    up = Up(proc)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            up.lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    return up


@contextmanager
def running_up(home: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120.0) -> Iterator[Up]:
    """`standings up` until ready; Ctrl-C afterwards, SIGKILL of its group if that did not end it."""
    up = start_up(home, *args, env=env)
    try:
        up.wait_ready(timeout)
        yield up
    finally:
        if up.proc.poll() is None:
            try:
                up.stop()
            except subprocess.TimeoutExpired:
                os.killpg(up.proc.pid, signal.SIGKILL)
                up.proc.wait(timeout=10)


def standings(
    home: Path, *args: str, timeout: float = 120.0, from_cwd: bool = False, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run one `standings` command for ``home`` with no STANDINGS_* settings (what the README shows).

    ``from_cwd`` runs it in ``home`` without STANDINGS_HOME (the other way to name the project directory).
    """
    env = user_env(home, **extra)
    if from_cwd:
        del env["STANDINGS_HOME"]
    return subprocess.run(
        [*STANDINGS, *args],
        env=env,
        cwd=home if from_cwd else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
