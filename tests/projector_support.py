"""Shared helpers for the projector tests and bench: registration + event scenarios, a real producer
that reports delivered offsets, a from-scratch standings oracle, and bounded waits on PostgreSQL.

Nothing here mocks Kafka or PostgreSQL; the oracle is the pure domain code applied to every event
that was produced, in produce order (first applied wins for a (bout, revision)).
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import sqlalchemy as sa
from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy.orm import Session

from services.core import events
from services.core.db import registration
from services.core.db.schema import StandingsRow
from services.core.domain.results import BoutResult, BoutVoid, Method, Revision, Score, Winner, effective_results
from services.core.domain.ruleset import COMBAT_DEFAULT
from services.core.domain.standings import StandingRow, compute_standings
from services.core.kafka.consumer import consumer_conf
from services.core.settings import KafkaSettings, Settings

DivisionKey = tuple[str, str]
BASE_TIME = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
WIN_METHODS = [m for m in Method if m not in (Method.DRAW, Method.NO_CONTEST)]


# -- databases --------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


# -- scenarios ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Planned:
    """One message to produce: a valid event, or a raw (poison) value."""

    key: str
    value: bytes
    event: events.MatchEvent | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class Registration:
    tournaments: list[dict[str, Any]] = field(default_factory=list)
    divisions: list[dict[str, Any]] = field(default_factory=list)
    athletes: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    bouts: list[dict[str, Any]] = field(default_factory=list)

    def division_keys(self) -> list[DivisionKey]:
        return [(d["tournament_id"], d["division_id"]) for d in self.divisions]

    keys = division_keys  # older name, used by other test modules

    def insert(self, session: Session) -> None:
        registration.upsert_tournaments(session, self.tournaments)
        registration.upsert_athletes(session, self.athletes)
        registration.upsert_divisions(session, self.divisions)
        registration.upsert_entries(session, self.entries)
        for i in range(0, len(self.bouts), 2000):
            registration.upsert_bouts(session, self.bouts[i : i + 2000])

    def add_round_robin(self, t: str, d: str, athletes: Sequence[str], *, id_digits: int = 1) -> None:
        """One bout per pair of ``athletes``, colours alternating; ids ``{t}-{d}-b{n}``, ``n``
        zero-padded to ``id_digits``."""
        pairs = [(i, j) for i in range(len(athletes)) for j in range(i + 1, len(athletes))]
        for n, (i, j) in enumerate(pairs):
            red, blue = (athletes[i], athletes[j]) if (i + j) % 2 else (athletes[j], athletes[i])
            self.bouts.append(
                {
                    "bout_id": f"{t}-{d}-b{n:0{id_digits}d}",
                    "tournament_id": t,
                    "division_id": d,
                    "red_athlete_id": red,
                    "blue_athlete_id": blue,
                    "bout_order": n,
                }
            )

    def bout_division(self) -> dict[str, DivisionKey]:
        return {b["bout_id"]: (b["tournament_id"], b["division_id"]) for b in self.bouts}


def build_registration(
    prefix: str, tournaments: int, divisions: int, athletes: int, *, extra_entries: int = 1
) -> Registration:
    """``tournaments`` x ``divisions`` round-robin divisions of ``athletes`` athletes (every pair one
    bout); ``extra_entries`` athletes per division are entered but have no bout (rows with zeros)."""
    reg = Registration()
    for ti in range(tournaments):
        t = f"{prefix}-t{ti}"
        reg.tournaments.append(
            {
                "tournament_id": t,
                "name": f"Tournament {ti}",
                "tier": ["world", "continental", "national", "open"][ti % 4],
                "start_date": dt.date(2026, 11, 20),
                "end_date": dt.date(2026, 11, 22),
            }
        )
        for di in range(divisions):
            d = f"d{di}"
            reg.divisions.append(
                {
                    "tournament_id": t,
                    "division_id": d,
                    "name": f"Division {di}",
                    "category": f"c{di}",
                    "formats": ["round_robin"],
                }
            )
            ids = [f"{prefix}-a{ti}-{di}-{ai}" for ai in range(athletes + extra_entries)]
            for ai, athlete in enumerate(ids):
                reg.athletes.append(
                    {"athlete_id": athlete, "full_name": f"Athlete Ōno {ai}", "country": "JPN", "club": None}
                )
                reg.entries.append({"tournament_id": t, "division_id": d, "athlete_id": athlete})
            reg.add_round_robin(t, d, ids[:athletes])
    return reg


def random_result(rng: random.Random, bout_id: str, revision: int) -> BoutResult:
    roll = rng.random()
    if roll < 0.06:
        return BoutResult(bout_id, revision, Winner.DRAW, Method.DRAW, Score(rng.randint(0, 5), rng.randint(0, 5)))
    if roll < 0.09:
        return BoutResult(bout_id, revision, Winner.NONE, Method.NO_CONTEST, Score(0, 0))
    winner = rng.choice([Winner.RED, Winner.BLUE])
    method = rng.choice(WIN_METHODS)
    hi, lo = rng.randint(1, 15), rng.randint(0, 4)
    score = Score(hi, lo) if winner is Winner.RED else Score(lo, hi)
    return BoutResult(bout_id, revision, winner, method, score, duration_s=rng.randint(10, 600), referee_id="ref-1")


def _event(t: str, d: str, rev: Revision, at: dt.datetime) -> events.MatchEvent:
    if isinstance(rev, BoutVoid):
        return events.result_voided(t, d, rev, at)
    return events.result_recorded(t, d, rev, at)


def planned(event: events.MatchEvent) -> Planned:
    return Planned(
        key=events.partition_key(event.tournament_id, event.division_id),
        value=events.encode(event),
        event=event,
        headers=(("producer-id", b"test"), ("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")),
    )


def generate_events(
    reg: Registration,
    count: int,
    *,
    seed: int = 7,
    correction_rate: float = 0.2,
    void_rate: float = 0.05,
    duplicate_rate: float = 0.08,
    conflict_rate: float = 0.01,
    out_of_order_rate: float = 0.05,
    finalize: bool = False,
) -> list[Planned]:
    """About ``count`` result/void events over the registration's bouts, interleaved across divisions
    like a live tournament: first results, corrections (rev+1), voids and reinstatements,
    out-of-order revisions (rev 2 produced before rev 1), exact duplicates (retries) and conflicts
    (same bout and revision, different payload)."""
    rng = random.Random(seed)
    division_of = reg.bout_division()
    bouts = list(division_of)
    rng.shuffle(bouts)
    out: list[Planned] = []
    next_rev: dict[str, int] = {}
    i = 0
    at = BASE_TIME
    while len(out) < count:
        bout = bouts[i % len(bouts)] if i < len(bouts) else rng.choice(bouts)
        i += 1
        t, d = division_of[bout]
        at += dt.timedelta(milliseconds=5)
        rev = next_rev.get(bout, 1)
        roll = rng.random()
        batch: list[Revision]
        if rev > 1 and roll < void_rate:
            batch = [BoutVoid(bout, rev)]
        elif rev == 1 and roll < out_of_order_rate:
            batch = [random_result(rng, bout, 2), random_result(rng, bout, 1)]  # rev 2 arrives first
            rev = 2
        elif rev > 1 and roll < void_rate + correction_rate:
            batch = [random_result(rng, bout, rev)]
        elif rev == 1:
            batch = [random_result(rng, bout, 1)]
        else:
            continue
        next_rev[bout] = rev + 1
        for r in batch:
            ev = _event(t, d, r, at)
            out.append(planned(ev))
            if rng.random() < duplicate_rate:
                out.append(planned(ev))  # a retry: same event id, same payload
            if isinstance(r, BoutResult) and rng.random() < conflict_rate:
                other = random_result(rng, bout, r.revision)
                if other != r:
                    out.append(planned(_event(t, d, other, at)))
    if finalize:
        for t, d in reg.division_keys():
            out.append(planned(events.tournament_finalized(t, d, at + dt.timedelta(seconds=1))))
    return out


# -- producing ----------------------------------------------------------------------------------


class DeliveryTracker:
    """Next offset per partition from delivery reports (tansu's watermarks are wrong)."""

    def __init__(self, *, remember: bool = False) -> None:
        self.next_offsets: dict[int, int] = {}
        self.errors: list[str] = []
        self.delivered = 0
        # value -> (partition, offset) of its last delivery, when ``remember``.
        self.where: dict[bytes, tuple[int, int]] = {}
        self._remember = remember

    def __call__(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(str(err))
            return
        self.delivered += 1
        p, o = msg.partition(), msg.offset()
        self.next_offsets[p] = max(self.next_offsets.get(p, 0), o + 1)
        if self._remember:
            self.where[msg.value()] = (p, o)


def produce(
    kafka: KafkaSettings, messages: Iterable[Planned], *, tracker: DeliveryTracker | None = None, timeout: float = 60
) -> DeliveryTracker:
    conf = kafka.producer_config()
    conf["linger.ms"] = 5
    producer = Producer(conf)
    tracker = tracker or DeliveryTracker()
    for sent, m in enumerate(messages, 1):
        while True:
            try:
                producer.produce(
                    kafka.topic, key=m.key.encode(), value=m.value, headers=list(m.headers), on_delivery=tracker
                )
                break
            except BufferError:
                producer.poll(0.05)
        if sent % 1000 == 0:
            producer.poll(0)
    remaining = producer.flush(timeout)
    assert remaining == 0, f"{remaining} messages not delivered"
    assert not tracker.errors, tracker.errors[:3]
    return tracker


# -- oracle and reads ---------------------------------------------------------------------------


def applied_revisions(messages: Iterable[Planned]) -> dict[tuple[str, int], Revision]:
    """First produced payload per (bout, revision) among valid result/void events."""
    first: dict[tuple[str, int], Revision] = {}
    for m in messages:
        ev = m.event
        if isinstance(ev, events.ResultRecorded | events.ResultVoided):
            first.setdefault((ev.bout_id, ev.revision), ev.to_domain())
    return first


def oracle(reg: Registration, messages: Sequence[Planned]) -> dict[DivisionKey, list[StandingRow]]:
    """Standings recomputed from scratch over every produced event."""
    revisions = applied_revisions(messages)
    effective = effective_results(revisions.values())
    entries: dict[DivisionKey, list[str]] = {}
    for e in reg.entries:
        entries.setdefault((e["tournament_id"], e["division_id"]), []).append(e["athlete_id"])
    bouts: dict[DivisionKey, list[Any]] = {}
    from services.core.domain.results import Bout

    for b in reg.bouts:
        bouts.setdefault((b["tournament_id"], b["division_id"]), []).append(
            Bout(b["bout_id"], b["red_athlete_id"], b["blue_athlete_id"])
        )
    out = {}
    for key in reg.division_keys():
        division_bouts = bouts.get(key, [])
        ids = {b.bout_id for b in division_bouts}
        out[key] = compute_standings(
            entries.get(key, []), division_bouts, {b: r for b, r in effective.items() if b in ids}, COMBAT_DEFAULT
        )
    return out


def read_standings(session: Session) -> dict[DivisionKey, list[StandingRow]]:
    rows = session.scalars(
        sa.select(StandingsRow).order_by(
            StandingsRow.tournament_id, StandingsRow.division_id, StandingsRow.rank, StandingsRow.athlete_id
        )
    )
    out: dict[DivisionKey, list[StandingRow]] = {}
    for r in rows:
        out.setdefault((r.tournament_id, r.division_id), []).append(
            StandingRow(**{f.name: getattr(r, f.name) for f in fields(StandingRow)})
        )
    return out


def normalized(standings: Mapping[DivisionKey, Sequence[StandingRow]]) -> dict[DivisionKey, list[StandingRow]]:
    """Drop divisions without rows and order rows by (rank, athlete) for comparison."""
    return {k: sorted(v, key=lambda r: (r.rank, r.athlete_id)) for k, v in standings.items() if v}


def stored_standings(session: Session) -> dict[DivisionKey, list[StandingRow]]:
    """The standings rows in PostgreSQL, comparable with :func:`oracle_standings`."""
    return normalized(read_standings(session))


def oracle_standings(reg: Registration, messages: Sequence[Planned]) -> dict[DivisionKey, list[StandingRow]]:
    """:func:`oracle`'s standings, comparable with :func:`stored_standings`."""
    return normalized(oracle(reg, messages))


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


def kafka_committed(settings: Settings) -> dict[int, int]:
    """The projector group's committed Kafka offsets, per partition of the topic."""
    consumer = Consumer(consumer_conf(settings.kafka, settings.projector.group_id, settings.projector.consumer))
    try:
        tps = [TopicPartition(settings.kafka.topic, p) for p in range(settings.kafka.partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
    finally:
        consumer.close()


def positions(session: Session, group: str, topic: str) -> dict[int, int]:
    rows = session.execute(
        sa.text("SELECT partition, next_offset FROM consumer_positions WHERE consumer_group = :g AND topic = :t"),
        {"g": group, "t": topic},
    )
    return {int(p): int(o) for p, o in rows}


def wait_for_positions(
    engine: sa.Engine, group: str, topic: str, expected: Mapping[int, int], timeout: float, *, alive: Any = None
) -> None:
    """Wait (bounded) until every partition's stored next offset reaches ``expected``.

    ``alive``: an optional callable raising if the process under test died.
    """
    deadline = time.monotonic() + timeout
    last: dict[int, int] = {}
    while time.monotonic() < deadline:
        if alive is not None:
            alive()
        with Session(engine) as session:
            last = positions(session, group, topic)
        if all(last.get(p, 0) >= o for p, o in expected.items()):
            return
        time.sleep(0.1)
    raise TimeoutError(f"positions {last} did not reach {dict(expected)} within {timeout}s")
