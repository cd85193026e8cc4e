"""`standings up` reaches ready; `standings down` and Ctrl-C leave no process behind.

With the services: it runs beside another checkout holding the default ports, prints every URL whole
in an 80-column terminal (and each one answers), and other commands run from the same directory find
the stack without any exported settings.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from services.embedded.waiting import pid_alive, wait_for_exit, wait_until
from tests.e2e.cli_support import STANDINGS, running_up, standings, start_up, user_env
from tests.ports import bindable

ROW = re.compile(r"^  (?P<name>\S.*?)\s{2,}(?P<url>\S+)$")
ROW_NAMES = {
    "PostgreSQL",
    "Kafka API",
    "search API",
    "read API",
    "intake API",
    "projector",
    "indexer",
    "overlay",
    "tournament",
    "mat table",
}


def _recorded_pids(home: Path) -> list[int]:
    state = json.loads((home / ".state" / "stack.json").read_text())
    return [state[name]["pid"] for name in ("postgres", "kafka", "search")]


@pytest.mark.parametrize("how", ["down", "ctrl-c"])
def test_up_then_stop_leaves_nothing_running(tmp_path: Path, how: str) -> None:
    up = start_up(tmp_path, "--no-services")
    try:
        up.wait_ready(timeout=60)
        pids = _recorded_pids(tmp_path)
        assert all(pid_alive(p) for p in pids)
        if how == "down":
            env = {**os.environ, "STANDINGS_HOME": str(tmp_path)}
            out = subprocess.run([*STANDINGS, "down"], env=env, capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stdout + out.stderr
        else:
            up.proc.send_signal(signal.SIGINT)
        assert up.proc.wait(timeout=60) == 0, up.output
        wait_for_exit(pids, timeout=30, what="embedded components")
        assert not (tmp_path / ".state" / "stack.json").exists()
    finally:
        if up.proc.poll() is None:
            os.killpg(up.proc.pid, signal.SIGKILL)
            up.proc.wait(timeout=10)


@contextmanager
def _listening(port: int) -> Iterator[None]:
    """Another checkout's service on ``port`` (if someone already holds it, it is just as busy)."""
    with ExitStack() as stack:
        sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            pass
        yield


def test_up_beside_another_checkout_prints_true_whole_urls_and_commands_find_it(tmp_path: Path) -> None:
    busy = {8000, 9102}  # the read API's and the projector's defaults
    with _listening(8000), _listening(9102), running_up(tmp_path, env=user_env(tmp_path, COLUMNS="80")) as up:
        rows = {m["name"]: m["url"] for line in up.lines if (m := ROW.match(line.rstrip("\n")))}
        assert set(rows) == ROW_NAMES, up.output
        service_ports = {name: urlsplit(rows[name]).port for name in ("read API", "intake API", "projector", "indexer")}
        assert not busy & set(service_ports.values()), up.output
        assert "port 8000 is in use; read API listens on" in up.output
        for name in ("read API", "intake API", "projector", "indexer", "overlay", "tournament"):
            answer = httpx.get(rows[name], timeout=10, trust_env=False)
            assert answer.status_code == 200, (name, rows[name], answer.status_code)

        # Same directory, nothing exported: the command finds the stack and says which one.
        created = standings(tmp_path, "token", "create", "--name", "e2e", "--role", "ops")
        assert created.returncode == 0, created.stderr
        assert created.stdout.strip().startswith("stk_")
        assert f"using the stack started by `standings up` (pid {up.proc.pid}): postgresql" in created.stderr
        listed = standings(tmp_path, "token", "list", from_cwd=True)
        assert listed.returncode == 0 and "\te2e" in listed.stdout, listed.stderr

        # An explicit setting wins over the state file (and a wrong one fails on one line).
        wrong = standings(
            tmp_path, "token", "list", STANDINGS_DATABASE__URL="postgresql+psycopg://nobody@127.0.0.1:1/none"
        )
        assert wrong.returncode == 2 and "cannot reach PostgreSQL" in wrong.stderr, wrong.stderr
        assert "using the stack" not in wrong.stderr and "Traceback" not in wrong.stderr

    assert up.proc.returncode == 0, up.output
    after = standings(tmp_path, "token", "list")
    assert after.returncode == 2 and "no stack to talk to" in after.stderr, after.stderr
    wait_until(lambda: all(bindable(p) for p in service_ports.values() if p), 30, "service ports released")


def test_a_configured_busy_port_stops_up_before_it_starts_anything(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        out = subprocess.run(
            [*STANDINGS, "up"],
            env=user_env(tmp_path, STANDINGS_API__PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 1
    assert f"read API: port {port} (STANDINGS_API__PORT) is in use" in out.stderr, out.stderr
    assert "nothing was started" in out.stderr
    assert not (tmp_path / ".state" / "stack.json").exists() and not (tmp_path / "data").exists()
