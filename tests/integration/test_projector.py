"""The standings projector against real tansu and PostgreSQL: events produced with a real producer,
the loop in a thread, positions awaited from delivery-report offsets, standings compared with a
from-scratch recomputation over every produced event."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy.orm import Session

from services.core import events
from services.core.domain.results import BoutResult, BoutVoid, Method, Score, Winner
from services.core.kafka.consumer import consumer_conf
from tests.integration.projector_env import (  # noqa: F401 (fixtures)
    ProjectorEnv,
    metric,
    projector_env,
    read_topic,
    running,
)
from tests.projector_support import (
    BASE_TIME,
    Planned,
    applied_revisions,
    build_registration,
    generate_events,
    normalized,
    oracle,
    planned,
    produce,
    read_standings,
    wait_for_positions,
)

pytestmark = pytest.mark.timeout(120)

DUPLICATES = "standings_projector_duplicates_total"
CONFLICTS = "standings_projector_conflicts_total"


def expected_counts(messages: list[Planned]) -> tuple[int, int]:
    """(duplicates, conflicts) a correct projector sees in produce order."""
    seen: dict[tuple[str, int], object] = {}
    duplicates = conflicts = 0
    for m in messages:
        ev = m.event
        if not isinstance(ev, events.ResultRecorded | events.ResultVoided):
            continue
        key = (ev.bout_id, ev.revision)
        if key not in seen:
            seen[key] = ev.to_domain()
        elif seen[key] == ev.to_domain():
            duplicates += 1
        else:
            conflicts += 1
    return duplicates, conflicts


def assert_matches_oracle(env: ProjectorEnv, reg: object, messages: list[Planned]) -> None:
    with Session(env.engine) as session:
        actual = normalized(read_standings(session))
    assert actual == normalized(oracle(reg, messages))  # type: ignore[arg-type]


def test_projects_results_corrections_voids_duplicates_and_conflicts(projector_env: ProjectorEnv) -> None:
    env = projector_env
    reg = build_registration("it", tournaments=2, divisions=3, athletes=6)
    env.register(reg)
    messages = generate_events(reg, 400, seed=11, conflict_rate=0.03, duplicate_rate=0.1, finalize=False)
    dup_expected, conflicts_expected = expected_counts(messages)
    assert dup_expected > 5 and conflicts_expected > 2
    dup_before, conflicts_before = metric(DUPLICATES), metric(CONFLICTS)

    # Half before the projector starts (big first batches), half while it runs.
    half = len(messages) // 2
    tracker = produce(env.settings.kafka, messages[:half])
    with running(env.settings, env.engine) as loop:
        produce(env.settings.kafka, messages[half:], tracker=tracker)
        expected = dict(tracker.next_offsets)
        wait_for_positions(env.engine, env.group, env.topic, expected, timeout=60)
        assert loop.rebalances["assign"] >= 1

    assert_matches_oracle(env, reg, messages)
    revisions = applied_revisions(messages)
    assert env.scalar("SELECT count(*) FROM results") == len(revisions)
    assert env.scalar("SELECT count(*) FROM result_conflicts") == conflicts_expected
    # Exactly one effective row per bout whose highest revision is a result.
    highest: dict[str, object] = {}
    for (bout, rev), r in sorted(revisions.items()):
        highest[bout] = r
    effective = sum(1 for r in highest.values() if isinstance(r, BoutResult))
    assert env.scalar("SELECT count(*) FROM results WHERE is_effective") == effective
    assert metric(DUPLICATES) - dup_before == dup_expected
    assert metric(CONFLICTS) - conflicts_before == conflicts_expected
    assert env.scalar("SELECT count(*) FROM divisions WHERE version > 0") == len(reg.divisions)
    assert env.scalar("SELECT count(*) FROM tournaments WHERE status = 'live'") == 2
    # Conflicts also reach the DLQ (SPEC §5).
    dlq = read_topic(env.settings.kafka.bootstrap_servers, env.settings.kafka.dlq_topic, conflicts_expected)
    assert len(dlq) == conflicts_expected
    assert {dict(m.headers())["error.class"] for m in dlq} == {b"conflicting_revision"}
