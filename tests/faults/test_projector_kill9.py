"""SIGKILL the projector process at random points (and between its DB commit and its Kafka commit)
at least ten times over a 20 000-event run; after the last restart the standings equal a
from-scratch recomputation and every duplicate was absorbed exactly once."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.core import events
from services.core.settings import Settings
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from tests.integration.projector_env import projector_environment
from tests.projector_process import MAIN, PAUSE_AFTER_DB_COMMIT, Projector, projector_env
from tests.projector_support import (
    applied_revisions,
    build_registration,
    expected_counts,
    generate_events,
    kafka_committed,
    oracle_standings,
    positions,
    produce,
    stored_standings,
    wait_for_positions,
)

pytestmark = pytest.mark.timeout(300)

KILLS = 10
HOOK_KILLS = 4  # of which land in the DB-commit -> Kafka-commit window


@pytest.fixture
def setup(pg: EmbeddedPostgres, kafka: TansuBroker) -> Iterator[tuple[Settings, sa.Engine]]:
    with projector_environment(pg, kafka, prefix="kill9", partitions=4) as env:
        env.settings.projector.consumer.batch_size = 500  # more batches: more places for a kill to land
        yield env.settings, env.engine


def test_kill9_at_random_points_loses_and_duplicates_nothing(setup: tuple[Settings, sa.Engine], tmp_path: Path) -> None:
    settings, engine = setup
    rng = random.Random(2026)
    reg = build_registration("k9", tournaments=2, divisions=6, athletes=12)
    with Session(engine) as session, session.begin():
        reg.insert(session)
    messages = generate_events(reg, 20_000, seed=99, duplicate_rate=0.08, conflict_rate=0.01, finalize=True)
    assert len(messages) >= 20_000
    dups, conflicts = expected_counts(messages)
    tracker = produce(settings.kafka, messages)
    group, topic = settings.projector.group_id, settings.kafka.topic

    def stored() -> dict[int, int]:
        with Session(engine) as session:
            return positions(session, group, topic)

    def done() -> bool:
        now = stored()
        return all(now.get(p, 0) >= o for p, o in tracker.next_offsets.items())

    runs: list[Projector] = []
    window_kills = 0
    kills = 0
    started = time.monotonic()
    while kills < KILLS:
        assert not done(), f"finished after {kills} kills: use more events or smaller batches"
        hook = kills < HOOK_KILLS
        module = PAUSE_AFTER_DB_COMMIT if hook else MAIN
        proc = Projector(projector_env(settings), tmp_path / f"run{len(runs)}.log", module=module)
        runs.append(proc)
        proc.wait_for("partitions_assigned", 30)
        if hook:
            proc.wait_for("test_hook_pause_after_db_commit", 30)
            time.sleep(0.05)  # inside the 0.3 s window: PG committed, Kafka not
            before = stored()
            proc.kill()
            committed = kafka_committed(settings)
            # The kill landed between the two commits: PG is ahead of Kafka for some partition.
            if any(before.get(p, 0) > max(o, 0) for p, o in committed.items()):
                window_kills += 1
        else:
            proc.wait_for("batch_applied", 30) if rng.random() < 0.5 else None
            # A batch of 500 takes ~0.1 s: this lands the kill in one of the next few batches, and
            # leaves events for the next kills however fast the projector runs on this machine.
            time.sleep(rng.uniform(0.0, 0.25))
            proc.kill()
        kills += 1
    assert window_kills >= 1

    final = Projector(projector_env(settings), tmp_path / "final.log")
    runs.append(final)
    final.wait_for("partitions_assigned", 30)  # a SIGTERM before it is up is no test of a clean stop
    wait_for_positions(engine, group, topic, tracker.next_offsets, timeout=120, alive=final.alive)
    assert final.terminate() == 0  # SIGTERM: finishes, commits, leaves the group
    assert final.saw("projector_stopped")
    elapsed = time.monotonic() - started

    with Session(engine) as session:
        actual = stored_standings(session)
        n_results = session.scalar(sa.text("SELECT count(*) FROM results"))
        n_conflicts = session.scalar(sa.text("SELECT count(*) FROM result_conflicts"))
        n_effective_dupes = session.scalar(
            sa.text(
                "SELECT count(*) FROM (SELECT bout_id FROM results WHERE is_effective GROUP BY 1 HAVING count(*) > 1) x"
            )
        )
        finalized = session.scalar(sa.text("SELECT count(*) FROM divisions WHERE finalized_at IS NOT NULL"))
    assert actual == oracle_standings(reg, messages)
    assert n_results == len(applied_revisions(messages))
    assert n_conflicts == conflicts
    assert n_effective_dupes == 0
    assert finalized == len(reg.divisions)

    # Every duplicate was absorbed exactly once: one results row per (bout, revision), one conflict
    # row per conflicting message, and the rest of the valid messages are the duplicates.
    valid = sum(1 for m in messages if isinstance(m.event, events.ResultRecorded | events.ResultVoided))
    assert valid - n_results - n_conflicts == dups
    # The counter, summed over every run's logged batches, never counts a duplicate twice (it may
    # count fewer: a SIGKILL right after a commit can take the batch's log line with it).
    absorbed = sum(
        int(line.get("duplicates", 0)) + int(line.get("replayed", 0))  # type: ignore[call-overload]
        for run in runs
        for line in run.lines()
        if line.get("event") == "batch_applied"
    )
    assert 0 < absorbed <= dups
    print(f"{kills} kills ({window_kills} between DB and Kafka commit), {len(messages)} events, {elapsed:.1f}s")
