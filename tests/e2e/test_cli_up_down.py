"""`standings up` reaches ready; `standings down` and Ctrl-C leave no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from services.core.embedded.waiting import pid_alive, wait_for_exit, wait_until

STANDINGS = [sys.executable, "-m", "services.cli.main"]


def _start_up(home: Path, *args: str) -> tuple[subprocess.Popen[str], list[str]]:
    env = {**os.environ, "STANDINGS_HOME": str(home), "STANDINGS_LOG_JSON": "false"}
    proc = subprocess.Popen(
        [*STANDINGS, "up", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def _recorded_pids(home: Path) -> list[int]:
    state = json.loads((home / ".state" / "stack.json").read_text())
    return [state[name]["pid"] for name in ("postgres", "kafka", "search")]


def _wait_ready(proc: subprocess.Popen[str], lines: list[str], timeout: float) -> None:
    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError("standings up exited:\n" + "".join(lines))
        return any("ready" in line and "Ctrl-C" in line for line in lines)

    wait_until(ready, timeout, "standings up")


@pytest.mark.parametrize("how", ["down", "ctrl-c"])
def test_up_then_stop_leaves_nothing_running(tmp_path: Path, how: str) -> None:
    proc, lines = _start_up(tmp_path, "--no-services")
    try:
        _wait_ready(proc, lines, timeout=60)
        pids = _recorded_pids(tmp_path)
        assert all(pid_alive(p) for p in pids)
        if how == "down":
            env = {**os.environ, "STANDINGS_HOME": str(tmp_path)}
            out = subprocess.run([*STANDINGS, "down"], env=env, capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stdout + out.stderr
        else:
            proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, "".join(lines)
        wait_for_exit(pids, timeout=30, what="embedded components")
        assert not (tmp_path / ".state" / "stack.json").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
