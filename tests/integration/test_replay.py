"""Replay against real tansu and PostgreSQL: the live projector applies a scenario, then a replay of the
log must find the same standings (and repair them when they were damaged) without touching the live
group's offsets or positions."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy.orm import Session

from services.core.kafka.consumer import consumer_conf
from services.ops.replay import replay
from tests.integration.projector_env import ProjectorEnv, projector_env, running  # noqa: F401 (fixture)
from tests.projector_support import (
    Planned,
    build_registration,
    generate_events,
    oracle_standings,
    positions,
    produce,
    stored_standings,
    wait_for_positions,
)

pytestmark = pytest.mark.timeout(180)


def committed_offsets(env: ProjectorEnv) -> dict[int, int]:
    """The live group's offsets committed in Kafka (read without joining the group)."""
    consumer = Consumer(consumer_conf(env.settings.kafka, env.group, env.settings.projector.consumer))
    try:
        tps = [TopicPartition(env.topic, p) for p in range(env.settings.kafka.partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
    finally:
        consumer.close()


def live_run(env: ProjectorEnv, messages: list[Planned]) -> None:
    """Produce ``messages`` and let a live projector apply all of them."""
    tracker = produce(env.settings.kafka, messages)
    with running(env.settings, env.engine):
        wait_for_positions(env.engine, env.group, env.topic, dict(tracker.next_offsets), timeout=60)


def test_replay_from_the_beginning_equals_live_and_repairs_damage(projector_env: ProjectorEnv) -> None:  # noqa: F811
    env = projector_env
    reg = build_registration("rp", tournaments=2, divisions=3, athletes=5)
    env.register(reg)
    messages = generate_events(reg, 300, seed=5, conflict_rate=0.03, duplicate_rate=0.1)
    poison = Planned(key=f"{reg.keys()[0][0]}:{reg.keys()[0][1]}", value=b"{not json")
    messages.insert(40, poison)
    live_run(env, messages)

    with Session(env.engine) as session:
        live = stored_standings(session)
        live_positions = positions(session, env.group, env.topic)
    assert live == oracle_standings(reg, messages)
    committed_before = committed_offsets(env)

    report = replay(env.settings, env.engine, dry_run=True, idle_timeout_s=5)
    assert report.equal, report.differing
    assert report.divisions == len(reg.divisions)
    assert report.poison["not_json"] == 1
    assert report.conflicts > 0
    assert report.missing_in_results == 0
    assert report.messages == sum(live_positions.values())

    # Damage two divisions the way a bad deploy or a manual edit would, then replay for real.
    (t0, d0), (t1, d1) = reg.keys()[0], reg.keys()[4]
    with env.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE standings_rows SET wins = wins + 3, rank = 1 WHERE tournament_id = %s AND division_id = %s",
            (t0, d0),
        )
        conn.exec_driver_sql(
            "DELETE FROM standings_rows WHERE ctid IN (SELECT ctid FROM standings_rows "
            "WHERE tournament_id = %s AND division_id = %s LIMIT 2)",
            (t1, d1),
        )
    division_keys = reg.keys()
    versions = {
        key: env.scalar(
            "SELECT version FROM divisions WHERE tournament_id = :t AND division_id = :d", t=key[0], d=key[1]
        )
        for key in division_keys
    }

    dry = replay(env.settings, env.engine, dry_run=True, idle_timeout_s=5)
    assert {(d.tournament_id, d.division_id) for d in dry.differing} == {(t0, d0), (t1, d1)}
    assert all(d.rows_written == 0 for d in dry.differing)

    repaired = replay(env.settings, env.engine, idle_timeout_s=5)
    assert {(d.tournament_id, d.division_id) for d in repaired.differing} == {(t0, d0), (t1, d1)}
    with Session(env.engine) as session:
        assert stored_standings(session) == live
        assert positions(session, env.group, env.topic) == live_positions  # the live group's positions
    for key, version in versions.items():
        now = env.scalar(
            "SELECT version FROM divisions WHERE tournament_id = :t AND division_id = :d", t=key[0], d=key[1]
        )
        assert now == (version + 1 if key in {(t0, d0), (t1, d1)} else version), key

    assert replay(env.settings, env.engine, dry_run=True, idle_timeout_s=5).equal
    assert committed_offsets(env) == committed_before  # replay never commits for the live group


def test_replay_from_a_time_takes_earlier_revisions_from_the_database(projector_env: ProjectorEnv) -> None:  # noqa: F811
    env = projector_env
    reg = build_registration("rt", tournaments=1, divisions=3, athletes=5)
    env.register(reg)
    messages = generate_events(reg, 200, seed=9)
    first, second = messages[:120], messages[120:]
    produce(env.settings.kafka, first)
    time.sleep(1.0)  # broker timestamps (produce time) separate the two halves
    middle = dt.datetime.now(dt.UTC)
    time.sleep(0.5)
    live_run(env, second)
    with Session(env.engine) as session:
        live = stored_standings(session)
    assert live == oracle_standings(reg, messages)

    report = replay(env.settings, env.engine, from_time=middle, dry_run=True, idle_timeout_s=5)
    assert report.equal, report.differing
    assert 0 < report.messages <= len(second)
    assert report.divisions > 0
    assert all(w.start > 0 for w in report.windows if w.reached > w.start)
