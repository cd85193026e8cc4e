"""Config drift between real projector processes (``python -m services.projector.main``, settings from
``STANDINGS_*``) in one consumer group on tansu + PostgreSQL: the odd member is named by the metric,
the ops endpoint and the ``consumers`` command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from services.cli.consumers import consumers
from services.core.auth import Principal, Role
from services.core.http.auth import get_principal
from services.core.http.problems import install_problem_handlers
from services.ops.consumers import assess_group, default_ttl_s, group_report, kafka_watermarks
from services.ops.drift import DriftReport
from services.ops.routes import router
from tests.integration.projector_env import ProjectorEnv, projector_env  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]
TTL_S = 5.0


def projector_env_vars(env: ProjectorEnv, max_poll_interval_ms: int) -> dict[str, str]:
    s = env.settings
    return {
        "STANDINGS_ENVIRONMENT": "test",
        "STANDINGS_LOG_JSON": "false",
        "STANDINGS_DATABASE__URL": s.database.url.get_secret_value(),
        "STANDINGS_KAFKA__BOOTSTRAP_SERVERS": s.kafka.bootstrap_servers,
        "STANDINGS_KAFKA__TOPIC": s.kafka.topic,
        "STANDINGS_KAFKA__DLQ_TOPIC": s.kafka.dlq_topic,
        "STANDINGS_KAFKA__PARTITIONS": str(s.kafka.partitions),
        "STANDINGS_PROJECTOR__GROUP_ID": env.group,
        "STANDINGS_PROJECTOR__CONSUMER__SESSION_TIMEOUT_MS": "6000",
        "STANDINGS_PROJECTOR__CONSUMER__MAX_POLL_INTERVAL_MS": str(max_poll_interval_ms),
        "STANDINGS_PROJECTOR__MEMBER_HEARTBEAT_S": "0.5",
        "STANDINGS_PROJECTOR__LAG_INTERVAL_S": "0.5",
        "STANDINGS_PROJECTOR__HTTP_PORT": "0",
    }


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], subprocess.Popen[bytes]]]:
    """Start projector processes; every one started is terminated (SIGTERM, then SIGKILL) at the end."""
    started: list[subprocess.Popen[bytes]] = []
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("STANDINGS_")}

    def start(env_vars: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"projector-{len(started)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.projector.main"],
            cwd=ROOT,
            env={**base, **env_vars},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
    for proc in started:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def wait_for(check: Callable[[], Any], timeout: float, what: str, alive: Callable[[], None]) -> Any:
    """Poll ``check`` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        alive()
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise TimeoutError(f"{what} within {timeout}s (last: {last!r})")


def drift_of(env: ProjectorEnv) -> DriftReport:
    with Session(env.engine) as session:
        return assess_group(session, env.group, TTL_S)


class Members:
    """Check for :func:`wait_for`: the drift report once exactly ``n`` members are live (and, with
    ``owning_all``, together own every partition); falsy otherwise, with the last state in its repr."""

    def __init__(self, env: ProjectorEnv, n: int, *, owning_all: bool = True) -> None:
        self.env, self.n, self.owning_all, self.last = env, n, owning_all, "nothing read"

    def __call__(self) -> DriftReport | Members:
        report = drift_of(self.env)
        owned = sorted(p for v in report.members for p in v.member.assigned)
        self.last = f"live {[(v.member.pid, v.member.assigned) for v in report.members]}, stale {len(report.stale)}"
        everything = owned == list(range(self.env.settings.kafka.partitions))
        if len(report.members) == self.n and (everything or not self.owning_all):
            return report
        return self

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return self.last


def test_a_member_with_a_different_poll_interval_is_reported(
    projector_env: ProjectorEnv,  # noqa: F811
    spawn: Callable[[dict[str, str]], subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = projector_env
    procs = [spawn(projector_env_vars(env, 6000)), spawn(projector_env_vars(env, 8000))]

    def alive() -> None:
        for proc in procs:
            assert proc.poll() is None, f"projector pid {proc.pid} exited with {proc.returncode}"

    # Two members, two configs: no majority, both are flagged (the group is split either way).
    report = wait_for(Members(env, 2, owning_all=False), 60, "two live members", alive)
    assert report.split and report.drifted == 2
    assert all(v.differences["max.poll.interval.ms"] for v in report.members)

    # A third member with the common config makes 8000 the odd one out, like the Saturday incident.
    procs.append(spawn(projector_env_vars(env, 6000)))
    report = wait_for(Members(env, 3), 60, "three members owning every partition", alive)
    assert report.drifted == 1 and not report.split
    (odd,) = [v for v in report.members if v.drifted]
    assert odd.member.pid == procs[1].pid
    assert odd.differences == {"max.poll.interval.ms": ("8000", "6000")}
    assert REGISTRY.get_sample_value("standings_consumer_config_drift_members", {"group": env.group}) == 1

    # The ops endpoint (ops role) names the same member.
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    app.state.settings, app.state.engine = env.settings, env.engine
    app.dependency_overrides[get_principal] = lambda: Principal("tok_test", Role.OPS)
    with TestClient(app) as client:
        body = client.get("/v1/ops/consumers", params={"group": env.group}).json()
    assert body["drifted_members"] == 1
    flagged = [m for m in body["members"] if m["drift"]]
    assert [m["pid"] for m in flagged] == [procs[1].pid]
    assert flagged[0]["differences"]["max.poll.interval.ms"] == {"member": "8000", "expected": "6000"}
    assert sorted(p for m in body["members"] for p in m["assigned"]) == list(range(env.settings.kafka.partitions))

    # The CLI table flags it too.
    for key, value in projector_env_vars(env, 6000).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("COLUMNS", "240")
    cli = typer.Typer()
    cli.command()(consumers)
    result = CliRunner().invoke(cli, ["--ttl", str(TTL_S), "--check"], terminal_width=200)
    assert result.exit_code == 1, result.output
    assert "DRIFT" in result.output and f"/{procs[1].pid}" in result.output
    assert "max.poll.interval.ms=8000" in result.output

    # The odd member leaves: once its heartbeat row is gone (clean shutdown) the group is consistent.
    procs[1].terminate()
    procs[1].wait(timeout=30)
    procs.pop(1)
    report = wait_for(Members(env, 2, owning_all=False), 60, "odd member gone", alive)
    assert report.drifted == 0
    with Session(env.engine) as session, kafka_watermarks(env.settings.kafka) as marks:
        full = group_report(session, env.group, env.topic, default_ttl_s(env.settings), marks)
    assert full.kafka_error is None
    assert {p.partition for p in full.partitions} == set(range(env.settings.kafka.partitions))
