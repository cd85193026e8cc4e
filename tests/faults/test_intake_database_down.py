"""PostgreSQL outage at the intake: 503 + Retry-After (never a 500), and not ready; recovery after restart.

Uses its own PostgreSQL server (the session one stays up) and the session tansu broker.
"""

from __future__ import annotations

import time

import httpx

from services.core.auth import Role
from services.core.db.engine import make_engine, make_session_factory
from services.core.kafka.admin import ensure_topics
from services.core.settings import DatabaseSettings
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.waiting import wait_until
from tests.databases import create_database
from tests.integration.intake_support import T_ALPHA, IntakeDb, ServedApp, insert_registration, intake_settings, unique


def test_database_down_is_503_not_500(own_pg: EmbeddedPostgres, kafka: TansuBroker):
    url = create_database(own_pg, "intake_db_down")
    engine = make_engine(DatabaseSettings(url=url), pool_size=1)
    db = IntakeDb(url, make_session_factory(engine))
    with db.session_factory() as session, session.begin():
        insert_registration(session)
    cached, uncached = db.token(Role.ADMIN), db.token(Role.ADMIN)
    engine.dispose()

    settings = intake_settings(url, kafka.bootstrap, unique("match-events-dbdown"))
    ensure_topics(settings.kafka, timeout=15)
    served = ServedApp(settings).start()
    path = f"/v1/tournaments/{T_ALPHA}/bouts/b-a1/results"
    body = {"revision": 1, "winner": "blue", "method": "points", "score": {"red": 0, "blue": 2}}
    try:
        with httpx.Client(base_url=served.url, timeout=15) as client:
            assert client.post(path, json=body, headers={"Authorization": f"Bearer {cached}"}).status_code == 202

            own_pg.stop()
            for token in (cached, uncached):  # bout lookup fails / token lookup fails
                started = time.monotonic()
                resp = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
                assert resp.status_code == 503, resp.text
                assert resp.headers["content-type"].startswith("application/problem+json")
                assert int(resp.headers["retry-after"]) >= 1
                assert time.monotonic() - started < 6  # bounded by the connect timeout
            assert client.get("/readyz").status_code == 503
            assert client.get("/livez").status_code == 200

            own_pg.restart()
            wait_until(
                lambda: (
                    client.post(path, json=body, headers={"Authorization": f"Bearer {uncached}"}).status_code == 202
                ),
                30,
                "intake accepting results after the database restart",
                interval=0.2,
            )
            assert client.get("/readyz").status_code == 200
    finally:
        served.stop()
