"""A batch that stalls longer than max.poll.interval.ms (a division row locked by another
transaction) must not cost the member its membership: no rebalance, and every event is applied."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.core.settings import Settings
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from tests.integration.projector_env import metric, projector_environment, running
from tests.projector_support import (
    build_registration,
    generate_events,
    oracle_standings,
    produce,
    stored_standings,
    wait_for_positions,
)

pytestmark = pytest.mark.timeout(120)

STALL_S = 10.0  # > max.poll.interval.ms (6 s) and > session.timeout.ms (6 s)


@pytest.fixture
def setup(pg: EmbeddedPostgres, kafka: TansuBroker) -> Iterator[tuple[Settings, sa.Engine]]:
    with projector_environment(pg, kafka, prefix="slow", partitions=2, pause_after_s=0.5) as env:
        assert env.settings.projector.consumer.max_poll_interval_ms == 6000
        # Small batches: the messages consumed ahead while the batch is stuck fill the buffer quickly,
        # after which only pausing and polling keeps the member in the group.
        env.settings.projector.consumer.batch_size = 20
        yield env.settings, env.engine


def test_a_batch_slower_than_max_poll_interval_keeps_membership(setup: tuple[Settings, sa.Engine]) -> None:
    settings, engine = setup
    reg = build_registration("sl", tournaments=1, divisions=2, athletes=6)
    with Session(engine) as session, session.begin():
        reg.insert(session)
    messages = generate_events(reg, 300, seed=3)
    first, second = messages[:150], messages[150:]
    group = settings.projector.group_id
    paused_gauge = {"group": group}

    with running(settings, engine) as loop:
        tracker = produce(settings.kafka, first)
        wait_for_positions(engine, group, settings.kafka.topic, tracker.next_offsets, timeout=30)
        assert dict(loop.rebalances) == {"assign": 1}
        assigns_before = metric("standings_consumer_rebalances_total", {"group": group, "kind": "assign"})

        # Another transaction holds every division row: the next batch waits on its version bump.
        blocker = engine.connect()
        tx = blocker.begin()
        blocker.execute(sa.text("SELECT * FROM divisions FOR UPDATE"))
        try:
            produce(settings.kafka, second, tracker=tracker)
            stalled_at = time.monotonic()
            paused_seen = False
            while time.monotonic() - stalled_at < STALL_S:
                paused_seen = paused_seen or metric("standings_consumer_paused", paused_gauge) == 1
                assert loop.live(), "the poll loop must keep turning while the batch is stuck"
                time.sleep(0.1)
            assert paused_seen, "a batch slower than pause_after_s pauses the partitions"
            assert not loop.health.ready() or loop.health.db_ok  # readiness only fails on errors
        finally:
            tx.commit()
            blocker.close()

        wait_for_positions(engine, group, settings.kafka.topic, tracker.next_offsets, timeout=30)
        # Still the one initial assignment: no revoke, no lost partitions, no re-join.
        assert dict(loop.rebalances) == {"assign": 1}
        assert metric("standings_consumer_rebalances_total", {"group": group, "kind": "assign"}) == assigns_before
        assert metric("standings_consumer_paused", paused_gauge) == 0

    with Session(engine) as session:
        assert stored_standings(session) == oracle_standings(reg, messages)
