"""A projector member remembers each round-robin division's standings inputs between batches
(services/projector/division_memory.py), on real tansu and PostgreSQL. What it remembers must never
outlive another writer: a registration refresh (which bumps ``divisions.version``) between two
batches is seen by the next batch, and a failed batch forgets everything."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.core import events
from services.core.db import projection
from services.core.db import registration as registration_repo
from services.core.domain.results import BoutResult, Method, Score, Winner
from services.core.domain.ruleset import RULESETS
from services.core.kafka.dlq import DeadLetterPublisher
from services.core.planning.batch import Incoming, decode_batch
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from services.projector.division_memory import DivisionMemory
from services.projector.service import BatchApplier
from services.registration import refresh
from tests.integration.projector_env import ProjectorEnv, projector_environment
from tests.projector_support import Registration

T, D = "mem-open", "m-60kg"
AT = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def env(pg: EmbeddedPostgres, kafka: TansuBroker) -> Iterator[ProjectorEnv]:
    with projector_environment(pg, kafka, prefix="mem") as e:
        reg = Registration()
        reg.tournaments.append(
            {"tournament_id": T, "name": "Memory Open", "tier": "open",
             "start_date": dt.date(2026, 11, 20), "end_date": dt.date(2026, 11, 22)}
        )  # fmt: skip
        reg.divisions.append(
            {"tournament_id": T, "division_id": D, "name": D, "category": D, "formats": ["round_robin"]}
        )
        for a in "ABCD":
            reg.athletes.append({"athlete_id": f"mem-{a}", "full_name": a, "country": "FRA", "club": None})
        reg.entries += [{"tournament_id": T, "division_id": D, "athlete_id": f"mem-{a}"} for a in "ABC"]
        reg.add_round_robin(T, D, ["mem-A", "mem-B", "mem-C"])
        e.register(reg)
        yield e


class Batches:
    """Batches handed to one BatchApplier as the projector's loop would (partition 0, in order)."""

    def __init__(self, env: ProjectorEnv, memory: DivisionMemory) -> None:
        group = env.settings.projector.group_id
        dlq = DeadLetterPublisher(env.settings.kafka, group)
        self.applier = BatchApplier(sessionmaker(env.engine), dlq, group, memory=memory)
        self.topic = env.settings.kafka.topic
        self.offset = 0

    def apply(self, *results: BoutResult) -> None:
        messages = []
        for result in results:
            value = events.encode(events.result_recorded(T, D, result, AT))
            messages.append(Incoming(self.topic, 0, self.offset, events.partition_key(T, D).encode(), value))
            self.offset += 1
        self.applier.apply(decode_batch(messages))


def red_wins(n: int, revision: int = 1) -> BoutResult:
    return BoutResult(f"{T}-{D}-b{n}", revision, Winner.RED, Method.POINTS, Score(3, 1))


def rows(env: ProjectorEnv) -> dict[str, tuple[int, int]]:
    """athlete -> (bouts, wins)."""
    found = env.rows("SELECT athlete_id, bouts, wins FROM standings_rows WHERE tournament_id = :t", t=T)
    return {a: (b, w) for a, b, w in found}


def test_the_next_batch_sees_a_registration_refresh_made_in_between(env: ProjectorEnv) -> None:
    memory = DivisionMemory()
    batches = Batches(env, memory)
    batches.apply(red_wins(0))
    assert len(memory) == 1  # remembered after the commit
    batches.apply(red_wins(1))  # from memory: the division is still at the version it left
    assert sum(w for _, w in rows(env).values()) == 2
    # A registration write enters D (it bumps the version and recomputes, D at zero).
    with Session(env.engine) as session, session.begin():
        registration_repo.upsert_entries(session, [{"tournament_id": T, "division_id": D, "athlete_id": "mem-D"}])
        refresh.lock_divisions(session, [(T, D)])
        refresh.refresh_divisions(session, [(T, D)])
    assert rows(env)["mem-D"] == (0, 0)
    batches.apply(red_wins(2))
    # Read again, not remembered: D is still in the table (a stale memory would drop D's row).
    assert rows(env)["mem-D"] == (0, 0)
    assert sum(w for _, w in rows(env).values()) == 3


def test_batches_from_memory_leave_the_rows_a_recomputation_from_postgresql_gives(env: ProjectorEnv) -> None:
    memory = DivisionMemory()
    batches = Batches(env, memory)
    batches.apply(red_wins(0), red_wins(1))
    before = rows(env)
    batches.apply(BoutResult(f"{T}-{D}-b0", 2, Winner.BLUE, Method.POINTS, Score(1, 3)))  # a correction
    batches.apply(red_wins(2), red_wins(1, revision=2))
    assert rows(env) != before
    with Session(env.engine) as session, session.begin():
        assert projection.recompute_standings(session, [(T, D)], {(T, D): RULESETS["combat-default"]}) == set()
    assert sum(w for _, w in rows(env).values()) == 3 and sum(b for b, _ in rows(env).values()) == 6


def test_a_failed_batch_forgets_everything(env: ProjectorEnv) -> None:
    memory = DivisionMemory()
    batches = Batches(env, memory)
    batches.apply(red_wins(0))
    assert len(memory) == 1

    def fail(*_: object) -> None:
        raise RuntimeError("the database went away")

    batches.applier._hook = fail  # the last step of the transaction fails
    with pytest.raises(RuntimeError):
        batches.apply(red_wins(1))
    assert len(memory) == 0
