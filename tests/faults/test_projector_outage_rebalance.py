"""PostgreSQL crashes while batches are in flight *and* a second member joins the group during the
outage, so partitions move while their positions cannot be read (the new owner starts from Kafka's
committed offsets). Once PostgreSQL is back, every event is applied exactly once: standings equal a
from-scratch recomputation, one row per applied (bout, revision), and each stored revision is the
first copy of it in the log (none was skipped and later covered by a duplicate)."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.core import events
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from tests.faults.test_projector_db_outage import registered
from tests.integration.projector_env import metric, read_topic, running
from tests.projector_support import (
    applied_revisions,
    build_registration,
    generate_events,
    oracle_standings,
    produce,
    stored_standings,
    wait_for_positions,
)

pytestmark = pytest.mark.timeout(240)

PARTITIONS = 6


def wait_for(condition: object, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not {what} within {timeout}s"
        time.sleep(0.02)


def first_copies(bootstrap: str, topic: str, expected: int) -> dict[tuple[str, int], tuple[int, int]]:
    """(bout, revision) -> (partition, offset) of its first message in the log."""
    first: dict[tuple[str, int], tuple[int, int]] = {}
    for msg in read_topic(bootstrap, topic, expected, timeout=60):
        event = events.decode(msg.value())
        if isinstance(event, events.ResultRecorded | events.ResultVoided):
            key = (event.bout_id, event.revision)
            at = (msg.partition(), msg.offset())
            first[key] = min(first.get(key, at), at)
    return first


def test_a_member_joining_during_a_postgres_crash_loses_and_skips_nothing(
    own_pg: EmbeddedPostgres, kafka: TansuBroker
) -> None:
    reg = build_registration("orb", tournaments=2, divisions=6, athletes=6)
    settings, engine = registered(own_pg, kafka, reg, partitions=PARTITIONS)
    messages = generate_events(reg, 1500, seed=31, duplicate_rate=0.15, conflict_rate=0.02, finalize=False)
    group, topic = settings.projector.group_id, settings.kafka.topic
    gaps_before = metric("standings_projector_offset_gaps_total", {"group": group, "verdict": "reread"})
    tracker = produce(settings.kafka, messages[:300])
    done = threading.Event()

    def trickle() -> None:  # results keep arriving through the outage and the rebalance
        for start in range(300, len(messages), 60):
            produce(settings.kafka, messages[start : start + 60], tracker=tracker)
            time.sleep(0.05)
        done.set()

    try:
        with running(settings, engine) as member_a:
            wait_for(lambda: len(member_a.assigned) == PARTITIONS, "all partitions assigned to the first member", 30)
            producer = threading.Thread(target=trickle, daemon=True)
            producer.start()
            wait_for(lambda: tracker.delivered >= 600, "600 events delivered", 30)
            own_pg.kill()  # mid-batch: the first member's batches fail and rewind
            with running(settings, engine) as member_b:
                wait_for(lambda: member_b.assigned, "partitions moved to the second member", 60)
                assert not member_a.assigned & member_b.assigned
                time.sleep(1.0)  # both members retrying against the dead server, positions unreadable
                own_pg.restart()
                producer.join(60)
                assert done.is_set() and not tracker.errors
                wait_for_positions(engine, group, topic, tracker.next_offsets, timeout=90)
                assert member_a.rebalances["assign"] >= 1 and member_b.rebalances["assign"] >= 1

        with Session(engine) as session:
            assert stored_standings(session) == oracle_standings(reg, messages)
            stored = {
                (bout, revision): (partition, offset)
                for bout, revision, partition, offset in session.execute(
                    sa.text("SELECT bout_id, revision, source_partition, source_offset FROM results")
                )
            }
    finally:
        engine.dispose()

    assert stored.keys() == applied_revisions(messages).keys()
    first = first_copies(settings.kafka.bootstrap_servers, topic, tracker.delivered)
    later = {key: (stored[key], first[key]) for key in stored if stored[key] != first[key]}
    assert not later, f"{len(later)} revisions stored from a later copy (stored, first), e.g. {list(later.items())[:3]}"
    gaps = metric("standings_projector_offset_gaps_total", {"group": group, "verdict": "reread"}) - gaps_before
    print(f"offset gaps re-read: {gaps:.0f}")
