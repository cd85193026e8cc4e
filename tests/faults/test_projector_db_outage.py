"""PostgreSQL crashes under a running projector: batches fail and are retried with backoff, readiness
fails, nothing is committed to Kafka meanwhile, the member stays in the group, and once PostgreSQL is
back every event is applied (no loss, no skip). A SIGTERM during that backoff ends the process at
once (the backoff waits on the stop event)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.core.db.engine import make_engine
from services.core.db.migrate import upgrade
from services.core.kafka.admin import ensure_topics
from services.core.settings import Settings
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from tests.integration.projector_env import make_settings, running
from tests.projector_process import Projector, projector_env
from tests.projector_support import (
    Registration,
    build_registration,
    generate_events,
    kafka_committed,
    oracle_standings,
    produce,
    stored_standings,
    wait_for_positions,
)

pytestmark = pytest.mark.timeout(180)


def registered(
    pg: EmbeddedPostgres, kafka: TansuBroker, reg: Registration, *, partitions: int
) -> tuple[Settings, sa.Engine]:
    """The test's own server migrated and holding ``reg``, with topics of its own."""
    upgrade(pg.url)
    settings = make_settings(pg.url, kafka.bootstrap, partitions=partitions)
    ensure_topics(settings.kafka)
    engine = make_engine(settings.database)
    with Session(engine) as session, session.begin():
        reg.insert(session)
    return settings, engine


def test_postgres_crash_pauses_retries_and_loses_nothing(own_pg: EmbeddedPostgres, kafka: TansuBroker) -> None:
    reg = build_registration("db", tournaments=1, divisions=2, athletes=5)
    settings, engine = registered(own_pg, kafka, reg, partitions=2)
    messages = generate_events(reg, 200, seed=8)
    first, second = messages[:100], messages[100:]
    group, topic = settings.projector.group_id, settings.kafka.topic
    try:
        with running(settings, engine) as loop:
            tracker = produce(settings.kafka, first)
            wait_for_positions(engine, group, topic, tracker.next_offsets, timeout=30)
            committed_before = kafka_committed(settings)
            assert loop.health.ready()

            own_pg.kill()
            produce(settings.kafka, second, tracker=tracker)
            deadline = time.monotonic() + 30
            while loop.health.ready() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not loop.health.ready(), "readiness fails while PostgreSQL is down"
            time.sleep(3)  # several failed attempts with backoff
            assert loop.live()
            assert kafka_committed(settings) == committed_before  # nothing committed without the DB

            own_pg.restart()
            wait_for_positions(engine, group, topic, tracker.next_offsets, timeout=60)
            deadline = time.monotonic() + 10
            while not loop.health.ready() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert loop.health.ready()
            assert dict(loop.rebalances) == {"assign": 1}  # the outage did not cost the membership

        with Session(engine) as session:
            assert stored_standings(session) == oracle_standings(reg, messages)
            count = session.scalar(sa.text("SELECT count(*) FROM results"))
        assert count == len({(m.event.bout_id, m.event.revision) for m in messages if hasattr(m.event, "bout_id")})
    finally:
        engine.dispose()


LONG_BACKOFF_S = 3.0  # the 5th probe's wait (0.2 s doubling); a SIGTERM must not wait for it


def test_sigterm_during_the_database_backoff_exits_at_once(
    own_pg: EmbeddedPostgres, kafka: TansuBroker, tmp_path: Path
) -> None:
    reg = build_registration("term", tournaments=1, divisions=1, athletes=4)
    settings, engine = registered(own_pg, kafka, reg, partitions=1)
    messages = generate_events(reg, 40, seed=13)
    group, topic = settings.projector.group_id, settings.kafka.topic
    env = projector_env(settings, STANDINGS_PROJECTOR__RETRY_MAX_BACKOFF_S="30")
    proc = Projector(env, tmp_path / "projector.log")
    try:
        tracker = produce(settings.kafka, messages[:20])
        wait_for_positions(engine, group, topic, tracker.next_offsets, timeout=60, alive=proc.alive)
        engine.dispose()
        own_pg.kill()
        produce(settings.kafka, messages[20:], tracker=tracker)
        proc.wait_for_line(
            lambda line: (
                line.get("event") == "waiting_for_database" and float(line.get("sleep_s") or 0) >= LONG_BACKOFF_S
            ),  # type: ignore[arg-type]
            timeout=60,
            what=f"a database backoff of {LONG_BACKOFF_S}s or more",
        )
        started = time.monotonic()
        code = proc.terminate(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        if proc.proc.poll() is None:
            proc.kill()
        engine.dispose()
    assert code == 0
    assert elapsed < 1.5, f"SIGTERM took {elapsed:.2f}s during a {LONG_BACKOFF_S}s+ backoff"
    assert proc.saw("recovery_wait_stopped")
    assert proc.saw("projector_stopped")
