"""The projector's repository: every query of a batch, set-based (one statement per step, never per row).

Bulk writes pass column arrays to ``unnest`` (one round trip, ~39k rows/s here; COPY is only ~8 %
faster and needs a temp table per batch). The caller owns the transaction: all of this runs in the
batch's single transaction together with the consumer positions.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from sqlalchemy import String, any_, bindparam, cast, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from services.core.db.registration import BoutInfo
from services.core.db.schema import BoutRow, ResultRow
from services.core.domain.results import Bout, BoutResult, Method, Score, Winner
from services.core.domain.ruleset import Ruleset
from services.core.domain.standings import StandingRow, compute_standings

NOTIFY_CHANNEL = "standings_changed"
RESULT = "result"
VOID = "void"

DivisionKey = tuple[str, str]
Payload = dict[str, Any]


class StoredRevision(NamedTuple):
    """A stored (or planned) revision: ``kind`` result|void and its canonical payload ({} for a void)."""

    kind: str
    payload: Payload


class DivisionInfo(NamedTuple):
    ruleset: str
    tournament_status: str
    finalized: bool = False


@dataclass(frozen=True, slots=True)
class NewRevision:
    tournament_id: str
    division_id: str
    bout_id: str
    revision: int
    kind: str
    payload: Payload
    event_id: uuid.UUID
    occurred_at: dt.datetime
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class ConflictRecord:
    """A second, different payload for an applied (bout, revision), with the payload that won."""

    tournament_id: str
    division_id: str
    bout_id: str
    revision: int
    kind: str
    payload: Payload
    applied_payload: Payload
    partition: int
    offset: int
    occurred_at: dt.datetime


@dataclass(slots=True)
class DivisionMark:
    """Where a division's latest change in a batch came from (``divisions.last_*``)."""

    last_event_at: dt.datetime
    partition: int
    offset: int


def _text_array(name: str, values: Collection[str]) -> Any:
    return cast(bindparam(name, list(values)), ARRAY(String))


# --- loading -----------------------------------------------------------------------------------


def load_bouts(session: Session, ids: Collection[str]) -> dict[str, BoutInfo]:
    """Like ``registration.load_bouts`` but column-only with ``= ANY(array)`` (no ORM objects,
    no IN list of thousands of parameters)."""
    if not ids:
        return {}
    rows = session.execute(
        select(
            BoutRow.bout_id, BoutRow.tournament_id, BoutRow.division_id, BoutRow.red_athlete_id, BoutRow.blue_athlete_id
        ).where(BoutRow.bout_id == any_(_text_array("ids", ids)))
    )
    return {r[0]: BoutInfo(*r) for r in rows}


def load_revisions(session: Session, ids: Collection[str]) -> dict[tuple[str, int], StoredRevision]:
    """Every stored revision of the given bouts (payload parsed with orjson, not the json module)."""
    if not ids:
        return {}
    rows = session.execute(
        select(ResultRow.bout_id, ResultRow.revision, ResultRow.kind, cast(ResultRow.payload, String)).where(
            ResultRow.bout_id == any_(_text_array("ids", ids))
        )
    )
    return {(b, int(r)): StoredRevision(k, orjson.loads(p)) for b, r, k, p in rows}


_LOAD_DIVISIONS = text(
    """
    SELECT dv.tournament_id, dv.division_id, t.ruleset, t.status, dv.finalized_at IS NOT NULL
    FROM unnest(CAST(:t AS text[]), CAST(:d AS text[])) AS k(t, d)
    JOIN divisions dv ON dv.tournament_id = k.t AND dv.division_id = k.d
    JOIN tournaments t ON t.tournament_id = dv.tournament_id
    """
)


def load_divisions(session: Session, keys: Collection[DivisionKey]) -> dict[DivisionKey, DivisionInfo]:
    if not keys:
        return {}
    ts, ds = _split(keys)
    rows = session.execute(_LOAD_DIVISIONS, {"t": ts, "d": ds})
    return {(t, d): DivisionInfo(ruleset, status, done) for t, d, ruleset, status, done in rows}


# --- results and conflicts ---------------------------------------------------------------------

_INSERT_REVISIONS = text(
    """
    INSERT INTO results (bout_id, revision, kind, payload, event_id, is_effective, occurred_at,
                         source_partition, source_offset)
    SELECT k.bout_id, k.revision, k.kind, CAST(k.payload AS jsonb), k.event_id, false, k.occurred_at, k.p, k.o
    FROM unnest(CAST(:bouts AS text[]), CAST(:revisions AS int[]), CAST(:kinds AS text[]),
                CAST(:payloads AS text[]), CAST(:event_ids AS uuid[]), CAST(:occurred AS timestamptz[]),
                CAST(:partitions AS int[]), CAST(:offsets AS bigint[]))
         AS k(bout_id, revision, kind, payload, event_id, occurred_at, p, o)
    ON CONFLICT (bout_id, revision) DO NOTHING
    """
)

_INSERT_CONFLICTS = text(
    """
    INSERT INTO result_conflicts (tournament_id, division_id, bout_id, revision, kind, payload, applied_payload,
                                  source_partition, source_offset)
    SELECT k.t, k.d, k.bout_id, k.revision, k.kind, CAST(k.payload AS jsonb), CAST(k.applied AS jsonb), k.p, k.o
    FROM unnest(CAST(:t AS text[]), CAST(:d AS text[]), CAST(:bouts AS text[]), CAST(:revisions AS int[]),
                CAST(:kinds AS text[]), CAST(:payloads AS text[]), CAST(:applied AS text[]),
                CAST(:partitions AS int[]), CAST(:offsets AS bigint[]))
         AS k(t, d, bout_id, revision, kind, payload, applied, p, o)
    ON CONFLICT (source_partition, source_offset) DO NOTHING
    RETURNING source_partition, source_offset
    """
)

# The effective revision of a bout is its highest one if that is a result (a void annuls the bout).
# Returns the bouts whose effective row changed: only their divisions need new standings.
_REFRESH_EFFECTIVE = text(
    """
    WITH eff AS (
        SELECT DISTINCT ON (bout_id) bout_id, revision, kind = 'result' AS counts
        FROM results
        WHERE bout_id = ANY(CAST(:bouts AS text[]))
        ORDER BY bout_id, revision DESC
    )
    UPDATE results r
    SET is_effective = (eff.counts AND r.revision = eff.revision)
    FROM eff
    WHERE r.bout_id = eff.bout_id AND r.is_effective IS DISTINCT FROM (eff.counts AND r.revision = eff.revision)
    RETURNING r.bout_id
    """
)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def insert_revisions(session: Session, rows: Sequence[NewRevision]) -> None:
    """Insert new (bout, revision) rows; the caller deduplicated them within the batch."""
    if not rows:
        return
    session.execute(
        _INSERT_REVISIONS,
        {
            "bouts": [r.bout_id for r in rows],
            "revisions": [r.revision for r in rows],
            "kinds": [r.kind for r in rows],
            "payloads": [_json(r.payload) for r in rows],
            "event_ids": [r.event_id for r in rows],
            "occurred": [r.occurred_at for r in rows],
            "partitions": [r.partition for r in rows],
            "offsets": [r.offset for r in rows],
        },
    )


def insert_conflicts(session: Session, rows: Sequence[ConflictRecord]) -> list[ConflictRecord]:
    """Record conflicts; one replayed from the same source offset is not recorded twice.
    Returns the conflicts recorded now."""
    if not rows:
        return []
    recorded = session.execute(
        _INSERT_CONFLICTS,
        {
            "t": [r.tournament_id for r in rows],
            "d": [r.division_id for r in rows],
            "bouts": [r.bout_id for r in rows],
            "revisions": [r.revision for r in rows],
            "kinds": [r.kind for r in rows],
            "payloads": [_json(r.payload) for r in rows],
            "applied": [_json(r.applied_payload) for r in rows],
            "partitions": [r.partition for r in rows],
            "offsets": [r.offset for r in rows],
        },
    )
    new = {(int(p), int(o)) for p, o in recorded}
    return [r for r in rows if (r.partition, r.offset) in new]


def refresh_effective(session: Session, bouts: Collection[str]) -> set[str]:
    """Recompute ``is_effective`` for ``bouts``; return the bouts whose effective result changed."""
    if not bouts:
        return set()
    return {b for (b,) in session.execute(_REFRESH_EFFECTIVE, {"bouts": sorted(bouts)})}


# --- standings ---------------------------------------------------------------------------------

_DIVISION_BOUTS = text(
    """
    SELECT b.tournament_id, b.division_id, b.bout_id, b.red_athlete_id, b.blue_athlete_id,
           r.payload ->> 'winner', r.payload ->> 'method',
           CAST(r.payload #>> '{score,red}' AS int), CAST(r.payload #>> '{score,blue}' AS int)
    FROM unnest(CAST(:t AS text[]), CAST(:d AS text[])) AS k(t, d)
    JOIN bouts b ON b.tournament_id = k.t AND b.division_id = k.d
    LEFT JOIN results r ON r.bout_id = b.bout_id AND r.is_effective
    """
)

_DIVISION_ENTRIES = text(
    """
    SELECT e.tournament_id, e.division_id, e.athlete_id
    FROM unnest(CAST(:t AS text[]), CAST(:d AS text[])) AS k(t, d)
    JOIN division_entries e ON e.tournament_id = k.t AND e.division_id = k.d
    """
)

_STANDINGS = text(
    """
    SELECT s.tournament_id, s.division_id, s.athlete_id, s.rank, s.bouts, s.wins, s.losses, s.draws, s.points,
           s.finishes, s.tp_for, s.tp_against, s.tie_unresolved, s.previous_rank
    FROM unnest(CAST(:t AS text[]), CAST(:d AS text[])) AS k(t, d)
    JOIN standings_rows s ON s.tournament_id = k.t AND s.division_id = k.d
    """
)

_UPSERT_STANDINGS = text(
    """
    INSERT INTO standings_rows AS s (tournament_id, division_id, athlete_id, rank, bouts, wins, losses, draws,
                                     points, finishes, tp_for, tp_against, tie_unresolved, previous_rank)
    SELECT * FROM unnest(CAST(:t AS text[]), CAST(:d AS text[]), CAST(:a AS text[]), CAST(:rank AS int[]),
                         CAST(:bouts AS int[]), CAST(:wins AS int[]), CAST(:losses AS int[]), CAST(:draws AS int[]),
                         CAST(:points AS int[]), CAST(:finishes AS int[]), CAST(:tp_for AS int[]),
                         CAST(:tp_against AS int[]), CAST(:tied AS boolean[]), CAST(:prev AS int[]))
    ON CONFLICT (tournament_id, division_id, athlete_id) DO UPDATE SET
        rank = EXCLUDED.rank, bouts = EXCLUDED.bouts, wins = EXCLUDED.wins, losses = EXCLUDED.losses,
        draws = EXCLUDED.draws, points = EXCLUDED.points, finishes = EXCLUDED.finishes, tp_for = EXCLUDED.tp_for,
        tp_against = EXCLUDED.tp_against, tie_unresolved = EXCLUDED.tie_unresolved,
        previous_rank = EXCLUDED.previous_rank
    """
)

_DELETE_STANDINGS = text(
    """
    DELETE FROM standings_rows s
    USING unnest(CAST(:t AS text[]), CAST(:d AS text[]), CAST(:a AS text[])) AS k(t, d, a)
    WHERE s.tournament_id = k.t AND s.division_id = k.d AND s.athlete_id = k.a
    """
)

_STANDING_FIELDS = ("rank", "bouts", "wins", "losses", "draws", "points", "finishes", "tp_for", "tp_against")

# (rank, bouts, wins, losses, draws, points, finishes, tp_for, tp_against, tie_unresolved, previous_rank)
_Stored = tuple[int, int, int, int, int, int, int, int, int, bool, int | None]


@dataclass(slots=True)
class _DivisionInput:
    entries: list[str]
    bouts: list[Bout]
    results: dict[str, BoutResult]


def load_standings_inputs(session: Session, keys: Collection[DivisionKey]) -> dict[DivisionKey, _DivisionInput]:
    """Roster (entries; bout athletes are added by compute_standings, as in
    ``registration.division_roster``), bouts and effective results of all ``keys`` in two queries."""
    ts, ds = _split(keys)
    inputs = {key: _DivisionInput([], [], {}) for key in keys}
    for t, d, bout_id, red, blue, winner, method, score_red, score_blue in session.execute(
        _DIVISION_BOUTS, {"t": ts, "d": ds}
    ):
        division = inputs[(t, d)]
        division.bouts.append(Bout(bout_id, red, blue))
        if winner is not None:
            division.results[bout_id] = BoutResult(
                bout_id, 0, Winner(winner), Method(method), Score(score_red, score_blue)
            )
    for t, d, athlete in session.execute(_DIVISION_ENTRIES, {"t": ts, "d": ds}):
        inputs[(t, d)].entries.append(athlete)
    return inputs


def recompute_standings(
    session: Session, keys: Collection[DivisionKey], rulesets: Mapping[DivisionKey, Ruleset]
) -> int:
    """Recompute the standings of ``keys`` and write the rows that differ; returns rows written.

    ``previous_rank`` keeps the rank an athlete had before the change that moved them.
    """
    if not keys:
        return 0
    keys = sorted(keys)
    ts, ds = _split(keys)
    inputs = load_standings_inputs(session, keys)
    stored: dict[DivisionKey, dict[str, _Stored]] = {key: {} for key in keys}
    for t, d, athlete, *values in session.execute(_STANDINGS, {"t": ts, "d": ds}):
        stored[(t, d)][athlete] = tuple(values)

    upserts: list[tuple[str, str, StandingRow, int | None]] = []
    deletes: list[tuple[str, str, str]] = []
    for key in keys:
        data = inputs[key]
        rows = compute_standings(data.entries, data.bouts, data.results, rulesets[key])
        before = stored[key]
        for row in rows:
            old = before.pop(row.athlete_id, None)
            if old is None:
                upserts.append((key[0], key[1], row, None))
                continue
            previous = old[0] if old[0] != row.rank else old[10]
            if _stored_values(row, previous) != old:
                upserts.append((key[0], key[1], row, previous))
        deletes.extend((key[0], key[1], athlete) for athlete in before)
    if upserts:
        params: dict[str, list[Any]] = {
            "t": [u[0] for u in upserts],
            "d": [u[1] for u in upserts],
            "a": [u[2].athlete_id for u in upserts],
            "tied": [u[2].tie_unresolved for u in upserts],
            "prev": [u[3] for u in upserts],
        }
        for name in _STANDING_FIELDS:
            params[name] = [getattr(u[2], name) for u in upserts]
        session.execute(_UPSERT_STANDINGS, params)
    if deletes:
        session.execute(
            _DELETE_STANDINGS,
            {"t": [x[0] for x in deletes], "d": [x[1] for x in deletes], "a": [x[2] for x in deletes]},
        )
    return len(upserts) + len(deletes)


def _stored_values(row: StandingRow, previous: int | None) -> _Stored:
    return (
        row.rank,
        row.bouts,
        row.wins,
        row.losses,
        row.draws,
        row.points,
        row.finishes,
        row.tp_for,
        row.tp_against,
        row.tie_unresolved,
        previous,
    )


# --- divisions, tournaments --------------------------------------------------------------------

# One statement: bump each changed division's version and NOTIFY listeners (delivered at commit).
_BUMP_DIVISIONS = text(
    """
    WITH k AS (
        SELECT * FROM unnest(CAST(:t AS text[]), CAST(:d AS text[]), CAST(:at AS timestamptz[]),
                             CAST(:p AS int[]), CAST(:o AS bigint[])) AS k(t, d, at, p, o)
    ), u AS (
        UPDATE divisions dv
        SET version = dv.version + 1, last_event_at = GREATEST(dv.last_event_at, k.at),
            last_partition = k.p, last_offset = k.o, updated_at = now()
        FROM k
        WHERE dv.tournament_id = k.t AND dv.division_id = k.d
        RETURNING dv.tournament_id, dv.division_id, dv.version
    )
    SELECT u.tournament_id, u.division_id, u.version,
           pg_notify(:channel, json_build_object('t', u.tournament_id, 'd', u.division_id, 'v', u.version)::text)
    FROM u
    """
)

_FINALIZE_DIVISIONS = text(
    """
    UPDATE divisions dv SET finalized_at = now()
    FROM unnest(CAST(:t AS text[]), CAST(:d AS text[])) AS k(t, d)
    WHERE dv.tournament_id = k.t AND dv.division_id = k.d AND dv.finalized_at IS NULL
    """
)

_START_TOURNAMENTS = text(
    "UPDATE tournaments SET status = 'live' WHERE tournament_id = ANY(CAST(:ids AS text[])) AND status = 'scheduled'"
)
_FINALIZE_TOURNAMENTS = text(
    """
    UPDATE tournaments SET status = 'finalized', finalized_at = COALESCE(finalized_at, now())
    WHERE tournament_id = ANY(CAST(:ids AS text[])) AND status <> 'finalized'
    """
)


def bump_divisions(session: Session, marks: Mapping[DivisionKey, DivisionMark]) -> dict[DivisionKey, int]:
    """version + 1, last_event_at/partition/offset, and ``NOTIFY standings_changed {"t","d","v"}``."""
    if not marks:
        return {}
    ordered = sorted(marks.items())
    rows = session.execute(
        _BUMP_DIVISIONS,
        {
            "t": [k[0] for k, _ in ordered],
            "d": [k[1] for k, _ in ordered],
            "at": [m.last_event_at for _, m in ordered],
            "p": [m.partition for _, m in ordered],
            "o": [m.offset for _, m in ordered],
            "channel": NOTIFY_CHANNEL,
        },
    )
    return {(t, d): int(v) for t, d, v, _ in rows}


def update_tournament_status(session: Session, started: Collection[str], finalized: Collection[DivisionKey]) -> None:
    """scheduled -> live on a first result; a finalize event sets the division's ``finalized_at``
    (so a replayed finalize is a no-op) and finalizes its tournament (status, ``finalized_at``)."""
    if started:
        session.execute(_START_TOURNAMENTS, {"ids": sorted(started)})
    if finalized:
        ts, ds = _split(sorted(finalized))
        session.execute(_FINALIZE_DIVISIONS, {"t": ts, "d": ds})
        session.execute(_FINALIZE_TOURNAMENTS, {"ids": sorted(set(ts))})


def _split(keys: Iterable[DivisionKey]) -> tuple[list[str], list[str]]:
    ts: list[str] = []
    ds: list[str] = []
    for t, d in keys:
        ts.append(t)
        ds.append(d)
    return ts, ds


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
