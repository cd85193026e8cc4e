"""The wiring points on real components: what each ``main`` runs — bootstrap, then serve or consume.

- intake: ``create_app(settings, deps=bootstrap(settings))`` accepts a result and is ready; its
  lifespan leaves the bootstrapped producer to the caller; ``/readyz`` with an unreachable broker
  names the failing check and its state, never the broker's error text.
- api: ``bootstrap(settings).app`` is ready on the bootstrapped engine, which ``close`` disposes.
- projector: ``bootstrap(settings).run()`` serves the probes, waits for PostgreSQL, consumes, and
  returns 0 once stopped (the SIGTERM path).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from services.api import bootstrap as api_bootstrap
from services.core.auth import Role
from services.core.kafka.admin import ensure_topics
from services.core.settings import KafkaSettings
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.waiting import free_port, wait_until
from services.intake.app import create_app
from services.intake.bootstrap import IntakeDeps, bootstrap
from services.projector import bootstrap as projector_bootstrap
from tests.integration.intake_support import T_ALPHA, IntakeDb, intake_settings, unique
from tests.integration.projector_env import ProjectorEnv, projector_env

pytest_plugins = ["tests.integration.intake_fixtures"]
__all__ = ["projector_env"]

RESULT = {"revision": 1, "winner": "red", "method": "points", "score": {"red": 5, "blue": 2}, "duration_s": 240}


class Served:
    """An app under uvicorn in a thread (the lifespan runs for real), stopped on exit."""

    def __init__(self, app: FastAPI) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
        self.thread = threading.Thread(target=self.server.run, name="wired-app", daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), 20, "app started")
        assert self.server.started, "the app exited during startup"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def deps(intake_db: IntakeDb, kafka: TansuBroker) -> Iterator[IntakeDeps]:
    settings = intake_settings(intake_db.url, kafka.bootstrap, unique("match-events-wired"))
    ensure_topics(settings.kafka, timeout=15)
    wired = bootstrap(settings)
    yield wired
    wired.close()


def test_intake_served_on_bootstrapped_deps(deps: IntakeDeps, intake_db: IntakeDb) -> None:
    token = intake_db.token(Role.ADMIN)
    with (
        Served(create_app(deps.settings, deps=deps)) as served,
        httpx.Client(base_url=served.url, timeout=10) as client,
    ):
        posted = client.post(
            f"/v1/tournaments/{T_ALPHA}/bouts/b-a1/results", json=RESULT, headers={"Authorization": f"Bearer {token}"}
        )
        assert posted.status_code == 202, posted.text
        assert client.get("/readyz").json() == {"status": "ready"}
    assert deps.producer.started, "the lifespan leaves a passed-in producer to its owner"
    deps.close()
    assert not deps.producer.started


def test_intake_readiness_names_states_not_broker_errors(intake_db: IntakeDb, kafka: TansuBroker) -> None:
    settings = intake_settings(intake_db.url, kafka.bootstrap, unique("match-events-nobroker"))
    dead = f"127.0.0.1:{free_port()}"
    settings = settings.model_copy(update={"kafka": KafkaSettings(bootstrap_servers=dead, topic=settings.kafka.topic)})
    wired = bootstrap(settings)
    try:
        with Served(create_app(settings, deps=wired)) as served:
            ready = httpx.get(f"{served.url}/readyz", timeout=10)
        assert ready.status_code == 503
        body = ready.json()
        assert body["checks"] == {"postgres": "ok", "kafka": "failing"}
        assert body["detail"] == "not ready: kafka failing"
        assert dead not in ready.text and "broker" not in ready.text.lower()
    finally:
        wired.close()


def test_projector_bootstrap_runs_ready_and_stops(projector_env: ProjectorEnv, pg: EmbeddedPostgres) -> None:
    process = projector_bootstrap.bootstrap(projector_env.settings)
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(process.run()), name="wired-projector", daemon=True)
    thread.start()
    try:
        wait_until(lambda: process.health.port != 0, 10, "health server bound")
        base = f"http://127.0.0.1:{process.health.port}"

        def ready() -> bool:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200

        wait_until(ready, 30, "projector ready")
        assert httpx.get(f"{base}/readyz", timeout=2).json() == {
            "status": "ok",
            "checks": {"consuming": "ok", "postgres": "ok"},
        }
        assert httpx.get(f"{base}/livez", timeout=2).status_code == 200
    finally:
        process.loop.stop()
        thread.join(30)
    assert not thread.is_alive() and codes == [0]


def test_api_served_on_the_bootstrapped_engine(intake_db: IntakeDb) -> None:
    settings = intake_settings(intake_db.url, "127.0.0.1:1", unique("unused"))
    process = api_bootstrap.bootstrap(settings)
    try:
        with Served(process.app) as served:
            ready = httpx.get(f"{served.url}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"postgres": "ok", "listen": "ok"}
        assert process.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        process.close()
