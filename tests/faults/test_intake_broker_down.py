"""Broker outage at the intake: a bounded 503 + Retry-After (never a hang), then recovery after restart.

Uses its own tansu instance (the session broker stays intact) and its own database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.core.auth import Role
from services.core.kafka.admin import ensure_topics
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.waiting import wait_until
from tests.integration.intake_support import (
    T_ALPHA,
    IntakeDb,
    ServedApp,
    intake_database,
    intake_settings,
)

DELIVERY_TIMEOUT_S = 2.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[TansuBroker]:
    with TansuBroker.start(log_dir=tmp_path) as own:
        yield own


@pytest.fixture
def db(pg: EmbeddedPostgres) -> Iterator[IntakeDb]:
    with intake_database(pg, "intake_fault") as db:
        yield db


def post(client: httpx.Client, token: str, revision: int) -> httpx.Response:
    body = {"revision": revision, "winner": "red", "method": "ko", "score": {"red": 1, "blue": 0}}
    return client.post(
        f"/v1/tournaments/{T_ALPHA}/bouts/b-a1/results", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def test_broker_down_gives_bounded_503_then_recovers(broker: TansuBroker, db: IntakeDb):
    settings = intake_settings(db.url, broker.bootstrap, "match-events", delivery_timeout_s=DELIVERY_TIMEOUT_S)
    ensure_topics(settings.kafka, timeout=15)
    token = db.token(Role.ADMIN)
    served = ServedApp(settings).start()
    try:
        with httpx.Client(base_url=served.url, timeout=DELIVERY_TIMEOUT_S + 10) as client:
            assert post(client, token, 1).status_code == 202  # connected and has its producer id

            broker.stop()
            for revision in (2, 3):  # the first notices the outage; the second runs into a known-dead broker
                started = time.monotonic()
                resp = post(client, token, revision)
                elapsed = time.monotonic() - started
                assert resp.status_code == 503, resp.text
                assert resp.headers["content-type"].startswith("application/problem+json")
                assert int(resp.headers["retry-after"]) >= 1
                assert resp.json()["status"] == 503 and resp.json()["detail"]
                assert elapsed < DELIVERY_TIMEOUT_S + 1, f"503 took {elapsed:.2f}s"

            not_ready = client.get("/readyz")
            assert not_ready.status_code == 503
            assert "kafka" in not_ready.json()["checks"]

            broker.restart()
            ensure_topics(settings.kafka, timeout=15)  # tansu keeps topics in memory only

            accepted: list[httpx.Response] = []

            def accepted_again() -> bool:
                resp = post(client, token, 4)
                assert resp.status_code in (202, 503), resp.text
                if resp.status_code == 202:
                    accepted.append(resp)
                return bool(accepted)

            wait_until(accepted_again, 30, "intake accepting results after the broker restart", interval=0.2)
            assert accepted[0].json()["revision"] == 4
            wait_until(lambda: client.get("/readyz").status_code == 200, 10, "intake ready again")
    finally:
        served.stop()
