"""One division's events on two partitions at once, consumed by two projector members concurrently.

This is what happens in production after partitions are added to ``match-events`` (the key →
partition mapping changes while a division's backlog on its old partition is still being consumed),
or with a third-party producer that keys by something else. Whatever the partitioning, the standings
must end equal to the from-scratch oracle: the projector serialises work per division (it locks the
division rows, in key order, before reading what it recomputes).

Both embedded brokers lack CreatePartitions (KIP-195), so the partition-add procedure is exercised
from the step after ``kafka-topics --alter``: a topic that already has the new partition count, a
backlog produced with the old mapping and new events with the new one (docs/operations.md,
"Adding partitions to match-events").
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from confluent_kafka import Producer
from sqlalchemy.orm import Session

from services.core.settings import Settings
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from tests.integration.projector_env import projector_environment
from tests.projector_process import Projector, projector_env
from tests.projector_support import (
    DeliveryTracker,
    Planned,
    Registration,
    build_registration,
    generate_events,
    oracle_standings,
    stored_standings,
    wait_for_positions,
)

pytestmark = pytest.mark.timeout(300)


@dataclass
class Env:
    settings: Settings
    engine: sa.Engine
    reg: Registration
    log_dir: Path


def _env(pg: EmbeddedPostgres, kafka: TansuBroker, tmp_path: Path, partitions: int) -> Iterator[Env]:
    with projector_environment(pg, kafka, prefix="twoparts", partitions=partitions) as env:
        reg = build_registration("tp", tournaments=1, divisions=3, athletes=6)
        env.register(reg)
        yield Env(env.settings, env.engine, reg, tmp_path)


@pytest.fixture
def two(pg: EmbeddedPostgres, kafka: TansuBroker, tmp_path: Path) -> Iterator[Env]:
    yield from _env(pg, kafka, tmp_path, partitions=2)


@pytest.fixture
def four(pg: EmbeddedPostgres, kafka: TansuBroker, tmp_path: Path) -> Iterator[Env]:
    yield from _env(pg, kafka, tmp_path, partitions=4)


def _assigned(member: Projector) -> set[int]:
    """The member's current assignment, from its own log (assigned/revoked lines)."""
    now: set[int] = set()
    for line in member.lines():
        if line.get("event") == "partitions_assigned":
            now = set(line["assigned"])  # type: ignore[call-overload]
        elif line.get("event") in ("partitions_revoked", "partitions_lost"):
            now -= set(line["partitions"])  # type: ignore[call-overload]
    return now


@dataclass
class Members:
    members: list[Projector]

    def alive(self) -> None:
        for m in self.members:
            m.alive()

    def assignments(self, partitions: int, timeout: float = 60) -> list[set[int]]:
        """Wait until every member owns partitions and together they own all, disjointly."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            sets = [_assigned(m) for m in self.members]
            union = set().union(*sets)
            if all(sets) and union == set(range(partitions)) and sum(map(len, sets)) == partitions:
                return sets
            time.sleep(0.05)
        raise TimeoutError(f"members did not split the {partitions} partitions: {[_assigned(m) for m in self.members]}")


@pytest.fixture
def members_factory(tmp_path: Path) -> Iterator[list[Members]]:
    started: list[Members] = []
    yield started
    for group in started:
        for m in group.members:
            if m.proc.poll() is None:
                m.terminate()


def _start(env: Env, started: list[Members], n: int = 2) -> Members:
    group = Members(
        [
            Projector(
                projector_env(env.settings, STANDINGS_PROJECTOR__CONSUMER__BATCH_SIZE="50"),
                env.log_dir / f"member{i}.log",
            )
            for i in range(n)
        ]
    )
    started.append(group)
    return group


class PartitionedProducer:
    """Produces each planned event to an explicit partition, tracking delivered offsets."""

    def __init__(self, env: Env) -> None:
        conf = env.settings.kafka.producer_config()
        conf["linger.ms"] = 2
        self._producer = Producer(conf)
        self._topic = env.settings.kafka.topic
        self.tracker = DeliveryTracker()

    def send(self, m: Planned, partition: int, key: bytes | None = None) -> None:
        self._producer.produce(
            self._topic,
            key=key if key is not None else m.key.encode(),
            value=m.value,
            headers=list(m.headers),
            partition=partition,
            on_delivery=self.tracker,
        )

    def flush(self) -> dict[int, int]:
        assert self._producer.flush(30) == 0
        assert not self.tracker.errors, self.tracker.errors[:3]
        return dict(self.tracker.next_offsets)


def _standings_match(env: Env, sent: Sequence[Planned]) -> bool:
    with Session(env.engine) as session:
        return stored_standings(session) == oracle_standings(env.reg, sent)


def test_a_division_on_two_partitions_ends_equal_to_the_oracle_round_after_round(
    two: Env, members_factory: list[Members]
) -> None:
    env = two
    group = _start(env, members_factory)
    owners = group.assignments(2)
    # Each division's events go to both partitions, so both members work on it at the same moment.
    messages = generate_events(env.reg, 1200, seed=23, conflict_rate=0.0, duplicate_rate=0.05)
    by_division: dict[tuple[str, str], list[Planned]] = {}
    for m in messages:
        by_division.setdefault((m.event.tournament_id, m.event.division_id), []).append(m)
    producer = PartitionedProducer(env)
    sent: list[Planned] = []
    rounds = mismatched = 0
    rng = random.Random(5)
    while any(by_division.values()):
        for queue in by_division.values():
            for partition in (0, 1):
                if queue:
                    m = queue.pop(0)
                    producer.send(m, partition)
                    sent.append(m)
            # now and then a burst on one side, so the two members' batches overlap unevenly
            if queue and rng.random() < 0.3:
                for _ in range(min(len(queue), rng.randint(2, 6))):
                    m = queue.pop(0)
                    producer.send(m, rng.randint(0, 1))
                    sent.append(m)
        expected = producer.flush()
        wait_for_positions(
            env.engine, env.settings.projector.group_id, env.settings.kafka.topic, expected, 60, alive=group.alive
        )
        rounds += 1
        mismatched += not _standings_match(env, sent)
    assert owners[0] != owners[1]
    assert rounds >= 40
    assert mismatched == 0, f"{mismatched} of {rounds} rounds ended with standings that differ from the oracle"


def test_after_adding_partitions_backlog_and_new_events_of_a_division_both_count(
    four: Env, members_factory: list[Members]
) -> None:
    """The procedure of docs/operations.md from the step after ``kafka-topics --alter``: the backlog sits
    on the partitions of the old mapping (2 partitions), new events arrive on the new mapping's
    partition (4), owned by the other member; a third-party producer's events keyed by bout id are
    applied too, counted and logged as miskeyed."""
    env = four
    group = _start(env, members_factory)
    owners = group.assignments(4)
    divisions = env.reg.division_keys()
    # old mapping: division i on partition (i % 2) — a backlog; new mapping: a partition of the other member.
    old = {d: i % 2 for i, d in enumerate(divisions)}
    new = {d: min(p for p in range(4) if not any(old[d] in s and p in s for s in owners)) for d in divisions}
    assert all(new[d] != old[d] for d in divisions)
    messages = generate_events(env.reg, 2400, seed=31, conflict_rate=0.0)
    split = len(messages) * 2 // 3
    producer = PartitionedProducer(env)
    for m in messages[:split]:
        producer.send(m, old[(m.event.tournament_id, m.event.division_id)])
    miskeyed = 0
    for i, m in enumerate(messages[split:]):
        key = (m.event.tournament_id, m.event.division_id)
        if i % 25 == 0:
            producer.send(m, new[key], key=f"bout:{i}".encode())  # a producer that keys by something else
            miskeyed += 1
        else:
            producer.send(m, new[key])
    expected = producer.flush()
    wait_for_positions(
        env.engine, env.settings.projector.group_id, env.settings.kafka.topic, expected, 120, alive=group.alive
    )
    assert _standings_match(env, messages)
    logged = sum(
        int(line["count"])  # type: ignore[call-overload]
        for member in group.members
        for line in member.lines()
        if line.get("event") == "events_miskeyed"
    )
    assert logged == miskeyed
