"""What the soak checks at the end, against a from-scratch recomputation with the pure domain.

The topic is read back in full (tansu's watermarks are wrong, so the ends come from the delivery
reports and 202s; a short idle wait catches anything beyond them) and replayed the way the spec
says the projector must apply it: log order per partition, first applied wins per (bout,
revision), duplicates absorbed, conflicts recorded and dead-lettered, poison dead-lettered.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from confluent_kafka import Consumer, TopicPartition

from services.core import events
from services.core.domain.bracket_division import AnyRevision
from services.core.domain.brackets import FoughtResult
from services.core.domain.ranking import Award, Tier, awards_for_division, ranking_list
from services.core.domain.results import Bout, BoutResult, BoutVoid, effective_results
from services.core.domain.ruleset import COMBAT_DEFAULT
from services.core.domain.standings import StandingRow, compute_standings
from tests.bracket_support import BracketOracle
from tests.faults.soak.scenario import Scenario

DivisionKey = tuple[str, str]
Offset = tuple[int, int]  # (partition, offset)


@dataclass(frozen=True, slots=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


def read_topic(
    bootstrap: str,
    topic: str,
    partitions: int,
    done: Callable[[dict[Offset, Record]], bool],
    *,
    timeout: float = 90.0,
    idle_s: float = 1.5,
) -> dict[Offset, Record]:
    """Every record of ``topic`` from offset 0: until ``done(records)`` and then ``idle_s`` without a
    new one (anything produced beyond what we know of), or ``TimeoutError``."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"soak-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 50,
            "log_level": 3,
        }
    )
    records: dict[Offset, Record] = {}
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while True:
            batch = consumer.consume(num_messages=5000, timeout=0.2)
            for msg in batch:
                if msg.error() is not None:
                    continue
                p, o = msg.partition(), msg.offset()
                assert p is not None and o is not None
                raw = msg.headers() or []
                pairs = list(raw.items()) if isinstance(raw, dict) else raw
                headers = {k: v.encode() if isinstance(v, str) else bytes(v) for k, v in pairs if v is not None}
                records[(p, o)] = Record(p, o, msg.key(), msg.value(), headers)
            now = time.monotonic()
            if batch:
                last_new = now
            elif now - last_new >= idle_s and done(records):
                return records
            if now > deadline:
                raise TimeoutError(f"reading {topic}: {len(records)} records after {timeout} s, not complete")
    finally:
        consumer.close()


def covers(ends: Mapping[int, int]) -> Callable[[dict[Offset, Record]], bool]:
    """``done`` for :func:`read_topic`: every partition read up to its known next offset."""

    def done(records: dict[Offset, Record]) -> bool:
        top: dict[int, int] = {}
        for p, o in records:
            top[p] = max(top.get(p, -1), o)
        return all(top.get(p, -1) >= end - 1 for p, end in ends.items())

    return done


@dataclass
class Replay:
    """The topic replayed with the spec's rules."""

    applied: dict[tuple[str, int], tuple[AnyRevision, Offset]] = field(default_factory=dict)
    duplicates: int = 0  # identical (bout, revision) payloads and repeated finalizes
    conflicts: dict[Offset, tuple[str, int]] = field(default_factory=dict)
    poison: dict[Offset, str] = field(default_factory=dict)  # offset -> expected error.class
    finalized: dict[DivisionKey, Offset] = field(default_factory=dict)
    by_type: Counter[str] = field(default_factory=Counter)
    brackets: dict[DivisionKey, BracketOracle] = field(default_factory=dict)
    bracket_rejected: Counter[str] = field(default_factory=Counter)  # slot_not_determined, no_bout

    def dead_letters(self) -> dict[Offset, str]:
        out = dict(self.poison)
        out.update({o: "conflicting_revision" for o in self.conflicts})
        return out


def replay(log: Mapping[Offset, Record], scenario: Scenario) -> Replay:
    out = Replay(brackets={key: BracketOracle(spec, pools) for key, (spec, pools) in scenario.brackets.items()})
    divisions = {(d["tournament_id"], d["division_id"]) for d in scenario.reg.divisions}
    for where in sorted(log):
        record = log[where]
        try:
            event = events.decode(record.value)
        except events.PoisonMessage as exc:
            out.poison[where] = exc.reason
            out.by_type["undecodable"] += 1
            continue
        key = (event.tournament_id, event.division_id)
        if isinstance(event, events.TournamentFinalized):
            out.by_type["tournament_finalized"] += 1
            if key not in divisions:
                out.poison[where] = "unknown_division"
            elif key in out.finalized:
                out.duplicates += 1
            else:
                out.finalized[key] = where
            continue
        out.by_type["result_voided" if isinstance(event, events.ResultVoided) else "result_recorded"] += 1
        if scenario.division_of.get(event.bout_id) != key:
            out.poison[where] = "unknown_bout"
            continue
        if key in out.brackets:
            _offer_bracket(out, out.brackets[key], event, where)
            continue
        revision = event.to_domain()
        rkey = (event.bout_id, event.revision)
        prior = out.applied.get(rkey)
        if prior is None:
            out.applied[rkey] = (revision, where)
        elif prior[0] == revision:
            out.duplicates += 1
        else:
            out.conflicts[where] = rkey
    return out


def _offer_bracket(
    out: Replay, oracle: BracketOracle, event: events.ResultRecorded | events.ResultVoided, where: Offset
) -> None:
    """A bracket division's revision, in log order: §7's slot rules, then first applied wins."""
    verdict = oracle.offer(event)
    rkey = (event.bout_id, event.revision)
    if verdict == "applied":
        out.applied[rkey] = (oracle.applied[rkey], where)
    elif verdict == "duplicate":
        out.duplicates += 1
    elif verdict == "conflicting_revision":
        out.conflicts[where] = rkey
    else:
        out.poison[where] = verdict
        out.bracket_rejected[verdict] += 1


def standings_oracle(
    scenario: Scenario,
    applied: Mapping[tuple[str, int], tuple[AnyRevision, Offset]],
    brackets: Mapping[DivisionKey, BracketOracle],
) -> dict[DivisionKey, list[StandingRow]]:
    """Round-robin divisions from their effective results, bracket divisions from their replay."""
    effective = effective_results(rev for rev, _ in applied.values() if not isinstance(rev, FoughtResult))
    roster: dict[DivisionKey, list[str]] = {}
    for e in scenario.reg.entries:
        roster.setdefault((e["tournament_id"], e["division_id"]), []).append(e["athlete_id"])
    bouts: dict[DivisionKey, list[Bout]] = {}
    for b in scenario.reg.bouts:
        bouts.setdefault((b["tournament_id"], b["division_id"]), []).append(
            Bout(b["bout_id"], b["red_athlete_id"], b["blue_athlete_id"])
        )
    out: dict[DivisionKey, list[StandingRow]] = {}
    for key in scenario.reg.division_keys():
        if key in brackets:
            out[key] = brackets[key].rows()
            continue
        division_bouts = bouts.get(key, [])
        ids = {b.bout_id for b in division_bouts}
        rows = compute_standings(
            roster.get(key, []), division_bouts, {b: r for b, r in effective.items() if b in ids}, COMBAT_DEFAULT
        )
        out[key] = sorted(rows, key=lambda r: (r.rank, r.athlete_id))
    return out


RankingValue = tuple[int, float, float, int, float]  # rank, points, best award, awards, provisional


def rankings_oracle(
    scenario: Scenario, standings: Mapping[DivisionKey, list[StandingRow]], ranking_date: dt.date
) -> tuple[dict[tuple[str, str, str], tuple[int, float]], dict[tuple[str, str], RankingValue]]:
    """Final awards of every (finalized) division from the oracle's standings, and the ranking list."""
    tournaments = {t["tournament_id"]: t for t in scenario.reg.tournaments}
    category = scenario.division_category()
    awards: list[Award] = []
    for (t, d), rows in standings.items():
        tour = tournaments[t]
        awards += awards_for_division(t, d, category[(t, d)], Tier(tour["tier"]), tour["end_date"], rows)
    by_award = {(a.tournament_id, a.division_id, a.athlete_id): (a.rank, a.points) for a in awards}
    ranking: dict[tuple[str, str], RankingValue] = {}
    for cat, entries in ranking_list(awards, ranking_date).items():
        for e in entries:
            ranking[(cat, e.athlete_id)] = (e.rank, e.points, e.best_award, e.awards, 0.0)
    return by_award, ranking


# --- PostgreSQL reads -----------------------------------------------------------------------------


def pg_rows(engine: sa.Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def pg_standings(engine: sa.Engine) -> dict[DivisionKey, list[StandingRow]]:
    out: dict[DivisionKey, list[StandingRow]] = {}
    for r in pg_rows(
        engine,
        "SELECT tournament_id, division_id, athlete_id, rank, bouts, wins, losses, draws, points, finishes,"
        " tp_for, tp_against, tie_unresolved FROM standings_rows ORDER BY 1, 2, rank, athlete_id",
    ):
        out.setdefault((r[0], r[1]), []).append(StandingRow(*r[2:]))
    return out


def pg_results(engine: sa.Engine) -> dict[tuple[str, int], tuple[str, dict[str, Any], Offset, bool]]:
    return {
        (r[0], int(r[1])): (r[2], r[3], (int(r[4]), int(r[5])), bool(r[6]))
        for r in pg_rows(
            engine,
            "SELECT bout_id, revision, kind, payload, source_partition, source_offset, is_effective FROM results",
        )
    }


def pg_awards(engine: sa.Engine) -> dict[tuple[str, str, str], tuple[int, float, bool]]:
    return {
        (r[0], r[1], r[2]): (int(r[3]), float(r[4]), bool(r[5]))
        for r in pg_rows(
            engine, 'SELECT tournament_id, division_id, athlete_id, "placing", points, provisional FROM ranking_awards'
        )
    }


def pg_rankings(engine: sa.Engine) -> dict[tuple[str, str], RankingValue]:
    return {
        (r[0], r[1]): (int(r[2]), float(r[3]), float(r[4]), int(r[5]), float(r[6]))
        for r in pg_rows(
            engine, "SELECT category, athlete_id, rank, points, best_award, awards, provisional_points FROM rankings"
        )
    }


def expected_payload(action_body: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form (``results.payload``) of a posted result body."""
    return {
        "winner": action_body["winner"],
        "method": action_body["method"],
        "score": dict(action_body["score"]),
        "duration_s": action_body.get("duration_s"),
        "referee_id": action_body.get("referee_id"),
    }


def diff_rows(expected: list[StandingRow], actual: list[StandingRow], limit: int = 3) -> str:
    lines = []
    for e, a in zip(expected, actual, strict=False):
        if e != a:
            lines.append(f"    expected {e}\n    actual   {a}")
        if len(lines) >= limit:
            break
    if len(expected) != len(actual):
        lines.append(f"    {len(expected)} rows expected, {len(actual)} stored")
    return "\n".join(lines)


def is_void(revision: AnyRevision) -> bool:
    return isinstance(revision, BoutVoid)


def is_result(revision: AnyRevision) -> bool:
    return isinstance(revision, BoutResult | FoughtResult)


def pg_bracket_bouts(engine: sa.Engine) -> dict[DivisionKey, dict[str, tuple[Any, ...]]]:
    """Per division: bout -> (status, red, blue, winner, counted revision, invalidated revision)."""
    out: dict[DivisionKey, dict[str, tuple[Any, ...]]] = {}
    for r in pg_rows(
        engine,
        "SELECT tournament_id, division_id, bout_id, status, red_athlete_id, blue_athlete_id, winner_athlete_id,"
        " counted_revision, invalidated_revision FROM bracket_bouts",
    ):
        out.setdefault((r[0], r[1]), {})[r[2]] = tuple(r[3:])
    return out
