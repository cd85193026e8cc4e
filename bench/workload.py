"""The projector benchmarks' shared setup on the embedded stack: a fresh database and topics of
their own, and the standard workload over them (2 tournaments x 50 round-robin divisions of 16
athletes, with revisions, voids, duplicates and conflicts mixed in), optionally with bracket
divisions of every format fought to their finals among them (corrections that re-route, voids,
retries, results posted into open slots)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from functools import cached_property

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.core import events
from services.core.db.engine import make_engine
from services.core.db.migrate import upgrade
from services.core.domain import bracket_division as bd
from services.core.kafka.admin import ensure_topics
from services.core.settings import ConsumerSettings, DatabaseSettings, KafkaSettings, ProjectorSettings, Settings
from services.embedded.stack import EmbeddedStack
from tests.bracket_support import (
    BracketOracle,
    StreamRates,
    add_bracket_division,
    bracket_athletes,
    bracket_description,
    bracket_stream,
    pool_bouts,
)
from tests.projector_support import (
    DivisionKey,
    Planned,
    Registration,
    build_registration,
    generate_events,
    oracle_standings,
    planned,
    stored_standings,
    unique,
)

PEPPER = "bench-pepper"
CONSUMER = {"max_poll_interval_ms": 10_000, "session_timeout_ms": 6000}


def new_database(admin_url: str, base_url: str, name: str) -> str:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = base_url.replace("/standings?", f"/{name}?", 1)
    upgrade(url)
    return url


def settings_for(stack: EmbeddedStack, url: str, *, batch_size: int, partitions: int = 6) -> Settings:
    topic = unique("bench-events")
    return Settings(
        environment="test",
        log_level="WARNING",
        log_json=True,
        token_pepper=PEPPER,
        database=DatabaseSettings(url=url),
        kafka=KafkaSettings(
            bootstrap_servers=stack.kafka.bootstrap, topic=topic, dlq_topic=f"{topic}.dlq", partitions=partitions
        ),
        projector=ProjectorSettings(
            group_id=unique("bench-projector"),
            consumer=ConsumerSettings(batch_size=batch_size, **CONSUMER),
            http_port=0,
        ),
    )


def fresh(stack: EmbeddedStack, admin_url: str, database: str, *, batch_size: int) -> tuple[Settings, sa.Engine]:
    """A migrated database named after ``database`` and a 6-partition topic of its own."""
    url = new_database(admin_url, stack.postgres.url, unique(database))
    settings = settings_for(stack, url, batch_size=batch_size)
    ensure_topics(settings.kafka)
    return settings, make_engine(settings.database)


@dataclass
class Workload:
    settings: Settings
    engine: sa.Engine
    reg: Registration
    messages: list[Planned]
    brackets: dict[DivisionKey, BracketOracle] = field(default_factory=dict)  # fed in produce order

    @cached_property
    def _bracket_keys(self) -> frozenset[str]:
        return frozenset(events.partition_key(t, d) for t, d in self.brackets)

    def _in_bracket(self, message: Planned) -> bool:
        return message.key in self._bracket_keys

    @property
    def bracket_events(self) -> int:
        return sum(map(self._in_bracket, self.messages))

    def matches_from_scratch(self) -> bool:
        """PostgreSQL's standings == the round-robin oracle and every bracket's log-order replay."""
        rr = [m for m in self.messages if not self._in_bracket(m)]
        want = {**oracle_standings(self.reg, rr), **{k: o.rows() for k, o in self.brackets.items()}}
        with Session(self.engine) as session:
            return stored_standings(session) == {k: v for k, v in want.items() if v}


def workload(
    stack: EmbeddedStack,
    admin_url: str,
    database: str,
    prefix: str,
    n_events: int,
    *,
    batch_size: int,
    conflict_rate: float = 0.002,
    bracket_divisions: int = 0,
    round_robin: bool = True,
) -> Workload:
    """:func:`fresh`, the standard registration (ids starting with ``prefix``) inserted, and about
    ``n_events`` events over it (not produced yet); with ``bracket_divisions`` bracket divisions
    whose streams are interleaved among them (each in its own order), ``n_events`` in all."""
    settings, engine = fresh(stack, admin_url, database, batch_size=batch_size)
    reg = build_registration(prefix, tournaments=2, divisions=50 if round_robin else 0, athletes=16)
    brackets, streams = _brackets(prefix, bracket_divisions)
    with Session(engine) as session, session.begin():
        reg.insert(session)
        brackets.insert(session)
    rng = random.Random(42)
    bracket_messages = [[planned(e) for e in stream] for stream in streams.values()]
    left = max(0, n_events - sum(map(len, bracket_messages))) if round_robin else 0
    messages = generate_events(reg, left, seed=42, duplicate_rate=0.05, conflict_rate=conflict_rate) if left else []
    messages = _interleave(rng, [messages, *bracket_messages])
    oracles = {}
    for (t, d), stream in streams.items():
        bracket = next(x["bracket"] for x in brackets.divisions if x["division_id"] == d)
        replay = oracles[(t, d)] = BracketOracle(bd.division_bracket(d, bracket), pool_bouts(t, d, bracket))
        for event in stream:
            assert isinstance(event, events.ResultRecorded | events.ResultVoided)
            replay.offer(event)
    return Workload(settings, engine, reg, messages, oracles)


BRACKET_FORMATS = (
    ("judo", lambda ids: bracket_description("elimination", repechage="judo", seeds=ids[:13])),
    ("wrestling", lambda ids: bracket_description("elimination", repechage="wrestling", seeds=ids[:11])),
    ("bronze", lambda ids: bracket_description("elimination", seeds=ids[:8])),
    ("pools", lambda ids: bracket_description("pools_then_elimination", pools=[ids[0:4], ids[4:8], ids[8:12]])),
)


def _brackets(prefix: str, n: int) -> tuple[Registration, dict[DivisionKey, list[events.MatchEvent]]]:
    """``n`` bracket divisions (the formats in turn) of one tournament, and each one's stream."""
    reg = Registration()
    streams: dict[DivisionKey, list[events.MatchEvent]] = {}
    if not n:
        return reg, streams
    t = f"{prefix}-brackets"
    reg.tournaments.append(
        {
            "tournament_id": t,
            "name": "Bracket Open",
            "tier": "open",
            "start_date": dt.date(2026, 11, 20),
            "end_date": dt.date(2026, 11, 22),
        }
    )
    rng = random.Random(7)
    for i in range(n):
        name, describe = BRACKET_FORMATS[i % len(BRACKET_FORMATS)]
        d = f"{prefix}-b{i}-{name}"
        bracket = describe([f"{d}-a{k:02d}" for k in range(13)])
        reg.athletes += [
            {"athlete_id": a, "full_name": f"Athlete Ōno {a}", "country": "JPN", "club": None}
            for a in bracket_athletes(bracket)
        ]
        add_bracket_division(reg, t, d, bracket, category=f"b{i % len(BRACKET_FORMATS)}")
        streams[(t, d)] = bracket_stream(rng, t, d, bracket, rates=StreamRates(corrections=3, voids=1, early=1))
    return reg, streams


def _interleave(rng: random.Random, streams: list[list[Planned]]) -> list[Planned]:
    """The streams mixed in proportion to what is left of each, each in its own order."""
    cursors = [0] * len(streams)
    left = sum(map(len, streams))
    out: list[Planned] = []
    while left:
        pick = rng.randrange(left)
        for i, stream in enumerate(streams):
            remaining = len(stream) - cursors[i]
            if pick < remaining:
                out.append(stream[cursors[i]])
                cursors[i] += 1
                break
            pick -= remaining
        left -= 1
    return out
