"""The projector's repository: every query of a batch, set-based (one statement per step, never per row).

Bulk writes pass column arrays to ``unnest`` or one JSON parameter (one round trip each). The new
``results`` rows, one per event and the largest write, go in with one binary ``COPY`` instead: it
needs no ``ON CONFLICT`` (see ``_COPY_REVISIONS``) and took 0.55 of the ``json_to_recordset``
insert's time per batch (BENCHMARKS.md, Series H). The caller owns the transaction: all of this
runs in the batch's single transaction together with the consumer positions.

The hot statements go through the session's psycopg connection, binary results and ``fetchall``
(SQLAlchemy fetches row by row). Large row sets travel as one JSON parameter read with
``json_to_recordset`` (orjson encodes it in C; psycopg's array dumpers escape or pack every element
in Python, which was most of a batch's time); small ones as binary arrays (``%(name)b``). Values
are always bound parameters; the SQL strings are constants.

The rules are the pure domain's: the batch's value types (``domain.projection``), the stored form of
a revision (``domain.codec``) and which standings rows change, with their ``previous_rank``
(``domain.standings.standings_change``). :func:`write_standings` is the one writer of
``standings_rows`` (projector, registration refresh, replay).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.orm import Session

from services.core.db import brackets
from services.core.db.driver import copy_rows, fetchall, run
from services.core.db.registration import BoutInfo
from services.core.domain import bracket_division as bd
from services.core.domain.codec import StoredRevision, decode_bracket_revision, decode_revision
from services.core.domain.projection import ConflictRecord, DivisionInfo, DivisionKey, NewRevision
from services.core.domain.results import Bout, BoutResult
from services.core.domain.ruleset import Ruleset
from services.core.domain.standings import (
    StandingRow,
    StandingsChange,
    StoredStanding,
    compute_standings,
    standings_change,
)

# --- loading -----------------------------------------------------------------------------------

_LOAD_BOUTS = """
    SELECT bout_id, tournament_id, division_id, red_athlete_id, blue_athlete_id
    FROM bouts WHERE bout_id = ANY(ARRAY(SELECT json_array_elements_text(%(ids)s::json)))
"""

_LOAD_REVISIONS = """
    SELECT bout_id, revision, kind, payload::text, is_effective
    FROM results WHERE bout_id = ANY(ARRAY(SELECT json_array_elements_text(%(ids)s::json)))
"""

# FOR UPDATE in key order: one division's batches serialise (whichever partitions carry its
# events), and every writer takes division locks in the same order (no deadlock).
_LOAD_DIVISIONS = """
    SELECT dv.tournament_id, dv.division_id, t.ruleset, t.status, dv.finalized_at IS NOT NULL, dv.version,
           NULLIF(dv.bracket, 'null'::jsonb)::text
    FROM unnest(%(t)b::text[], %(d)b::text[]) AS k(t, d)
    JOIN divisions dv ON dv.tournament_id = k.t AND dv.division_id = k.d
    JOIN tournaments t ON t.tournament_id = dv.tournament_id
    ORDER BY dv.tournament_id, dv.division_id
    FOR UPDATE OF dv
"""


def load_bouts(session: Session, ids: Collection[str]) -> dict[str, BoutInfo]:
    """Like ``registration.load_bouts``, set-based for a batch (``= ANY(array)``, no ORM objects)."""
    if not ids:
        return {}
    return {r[0]: BoutInfo(*r) for r in fetchall(session, _LOAD_BOUTS, {"ids": _json(list(ids))})}


def load_revisions(
    session: Session, ids: Collection[str]
) -> tuple[dict[tuple[str, int], StoredRevision], dict[str, int]]:
    """Every stored revision of the given bouts, and each bout's effective revision."""
    if not ids:
        return {}, {}
    revisions: dict[tuple[str, int], StoredRevision] = {}
    effective: dict[str, int] = {}
    for bout, revision, kind, payload, is_effective in fetchall(session, _LOAD_REVISIONS, {"ids": _json(list(ids))}):
        revisions[(bout, revision)] = StoredRevision(kind, orjson.loads(payload))
        if is_effective:
            effective[bout] = revision
    return revisions, effective


def load_divisions(
    session: Session, keys: Collection[DivisionKey], brackets: dict[DivisionKey, Any] | None = None
) -> dict[DivisionKey, DivisionInfo]:
    """The batch's divisions, locked until commit (read them before anything they govern);
    ``brackets`` (when given) gets each bracket division's ``divisions.bracket``."""
    if not keys:
        return {}
    ts, ds = split_keys(keys)
    rows = fetchall(session, _LOAD_DIVISIONS, {"t": ts, "d": ds})
    if brackets is not None:
        brackets.update({(t, d): orjson.loads(b) for t, d, *_, b in rows if b is not None})
    return {(t, d): DivisionInfo(ruleset, status, done, v) for t, d, ruleset, status, done, v, _ in rows}


# --- results and conflicts ---------------------------------------------------------------------

# COPY, not INSERT … ON CONFLICT: about half the time per row (bench/floor.py's largest share). No
# row can exist already: the planner read these bouts' revisions under their divisions' row locks,
# which every writer of a division's results holds. Were one there, the batch would fail and its
# retry plan the message as a duplicate.
_COPY_REVISIONS = """
    COPY results (bout_id, revision, kind, payload, event_id, is_effective, occurred_at,
                  source_partition, source_offset)
    FROM STDIN (FORMAT BINARY)
"""
_REVISION_TYPES = ("text", "int4", "text", "jsonb", "uuid", "bool", "timestamptz", "int4", "int8")

_INSERT_CONFLICTS = """
    INSERT INTO result_conflicts (tournament_id, division_id, bout_id, revision, kind, payload, applied_payload,
                                  source_partition, source_offset)
    SELECT k.t, k.d, k.bout_id, k.revision, k.kind, k.payload::jsonb, k.applied::jsonb, k.p, k.o
    FROM unnest(%(t)b::text[], %(d)b::text[], %(bouts)b::text[], %(revisions)b::int[], %(kinds)b::text[],
                %(payloads)b::text[], %(applied)b::text[], %(partitions)b::int[], %(offsets)b::bigint[])
         AS k(t, d, bout_id, revision, kind, payload, applied, p, o)
    ON CONFLICT (source_partition, source_offset) DO NOTHING
    RETURNING source_partition, source_offset
"""

_SET_EFFECTIVE = """
    UPDATE results r SET is_effective = k.flag
    FROM unnest(%(bouts)b::text[], %(revisions)b::int[], %(flags)b::boolean[]) AS k(bout_id, revision, flag)
    WHERE r.bout_id = k.bout_id AND r.revision = k.revision
"""


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def insert_revisions(
    session: Session, rows: Sequence[NewRevision], effective: Collection[tuple[str, int]] = ()
) -> None:
    """Insert new (bout, revision) rows, those in ``effective`` flagged as the bout's effective one.
    The caller deduplicated them within the batch."""
    if not rows:
        return
    copy_rows(
        session,
        _COPY_REVISIONS,
        _REVISION_TYPES,
        (
            (
                r.bout_id,
                r.revision,
                r.kind,
                r.payload,
                r.event_id,
                (r.bout_id, r.revision) in effective,
                r.occurred_at,
                r.partition,
                r.offset,
            )
            for r in rows
        ),
    )


def insert_conflicts(session: Session, rows: Sequence[ConflictRecord]) -> list[ConflictRecord]:
    """Record conflicts; one replayed from the same source offset is not recorded twice.
    Returns the conflicts recorded now."""
    if not rows:
        return []
    recorded = fetchall(
        session,
        _INSERT_CONFLICTS,
        {
            "t": [r.offered.tournament_id for r in rows],
            "d": [r.offered.division_id for r in rows],
            "bouts": [r.offered.bout_id for r in rows],
            "revisions": [r.offered.revision for r in rows],
            "kinds": [r.offered.kind for r in rows],
            "payloads": [_json(r.offered.payload) for r in rows],
            "applied": [_json(r.applied_payload) for r in rows],
            "partitions": [r.offered.partition for r in rows],
            "offsets": [r.offered.offset for r in rows],
        },
    )
    new = {(p, o) for p, o in recorded}
    return [r for r in rows if (r.offered.partition, r.offered.offset) in new]


def set_effective(session: Session, flips: Sequence[tuple[str, int, bool]]) -> None:
    """Set ``is_effective`` of stored (bout, revision) rows whose flag changes."""
    if not flips:
        return
    run(
        session,
        _SET_EFFECTIVE,
        {"bouts": [f[0] for f in flips], "revisions": [f[1] for f in flips], "flags": [f[2] for f in flips]},
    )


# --- standings ---------------------------------------------------------------------------------

_DIVISION_BOUTS = """
    SELECT b.tournament_id, b.division_id, b.bout_id, b.red_athlete_id, b.blue_athlete_id,
           r.revision, r.kind, r.payload::text
    FROM unnest(%(t)b::text[], %(d)b::text[]) AS k(t, d)
    JOIN bouts b ON b.tournament_id = k.t AND b.division_id = k.d
    LEFT JOIN results r ON r.bout_id = b.bout_id AND (r.is_effective OR b.red_athlete_id IS NULL)
"""

# The entries, plus one row per bracket division carrying its description (no extra round trip).
_DIVISION_ENTRIES = """
    SELECT e.tournament_id, e.division_id, e.athlete_id, NULL::text
    FROM unnest(%(t)b::text[], %(d)b::text[]) AS k(t, d)
    JOIN division_entries e ON e.tournament_id = k.t AND e.division_id = k.d
    UNION ALL
    SELECT dv.tournament_id, dv.division_id, NULL, NULLIF(dv.bracket, 'null'::jsonb)::text
    FROM unnest(%(t)b::text[], %(d)b::text[]) AS k(t, d)
    JOIN divisions dv ON dv.tournament_id = k.t AND dv.division_id = k.d AND jsonb_typeof(dv.bracket) = 'object'
"""

_STANDINGS = """
    SELECT s.tournament_id, s.division_id, s.athlete_id, s.rank, s.bouts, s.wins, s.losses, s.draws, s.points,
           s.finishes, s.tp_for, s.tp_against, s.tie_unresolved, s.previous_rank
    FROM unnest(%(t)b::text[], %(d)b::text[]) AS k(t, d)
    JOIN standings_rows s ON s.tournament_id = k.t AND s.division_id = k.d
"""

_UPSERT_STANDINGS = """
    INSERT INTO standings_rows AS s (tournament_id, division_id, athlete_id, rank, bouts, wins, losses, draws,
                                     points, finishes, tp_for, tp_against, tie_unresolved, previous_rank)
    SELECT k.t, k.d, k.a, k.rank, k.bouts, k.wins, k.losses, k.draws, k.points, k.finishes, k.tp_for,
           k.tp_against, k.tied, k.prev
    FROM json_to_recordset(%(rows)s::json)
         AS k(t text, d text, a text, rank int, bouts int, wins int, losses int, draws int, points int,
              finishes int, tp_for int, tp_against int, tied boolean, prev int)
    ON CONFLICT (tournament_id, division_id, athlete_id) DO UPDATE SET
        rank = EXCLUDED.rank, bouts = EXCLUDED.bouts, wins = EXCLUDED.wins, losses = EXCLUDED.losses,
        draws = EXCLUDED.draws, points = EXCLUDED.points, finishes = EXCLUDED.finishes, tp_for = EXCLUDED.tp_for,
        tp_against = EXCLUDED.tp_against, tie_unresolved = EXCLUDED.tie_unresolved,
        previous_rank = EXCLUDED.previous_rank
"""

_DELETE_STANDINGS = """
    DELETE FROM standings_rows s
    USING unnest(%(t)b::text[], %(d)b::text[], %(a)b::text[]) AS k(t, d, a)
    WHERE s.tournament_id = k.t AND s.division_id = k.d AND s.athlete_id = k.a
"""


@dataclass(slots=True)
class DivisionInput:
    """``bouts``: those with fixed athletes (a round-robin division's, a bracket division's pool
    bouts), ``results`` their effective results; a bracket's description, positions and their log."""

    entries: list[str]
    bouts: list[Bout]
    results: dict[str, BoutResult]
    bracket: dict[str, Any] | None = None
    positions: set[str] = field(default_factory=set)
    log: list[bd.AnyRevision] = field(default_factory=list)

    def table(self) -> tuple[list[str], list[Bout], dict[str, BoutResult]]:
        return self.entries, self.bouts, self.results

    def projection(self, division_id: str, ruleset: Ruleset) -> bd.BracketProjection:
        assert self.bracket is not None
        spec = bd.division_bracket(division_id, self.bracket)
        return bd.project(spec, self.bouts, [*self.log, *self.results.values()], ruleset)


def load_standings_inputs(session: Session, keys: Collection[DivisionKey]) -> dict[DivisionKey, DivisionInput]:
    """Roster, bouts and effective results of all ``keys`` in two queries (a bracket division's
    description and its positions' revisions come with them). The roster is the entries;
    compute_standings adds every bout's athletes, so it equals ``registration.division_roster``."""
    ts, ds = split_keys(keys)
    inputs = {key: DivisionInput([], [], {}) for key in keys}
    params = {"t": ts, "d": ds}
    for t, d, bout_id, red, blue, revision, kind, payload in fetchall(session, _DIVISION_BOUTS, params):
        division = inputs[(t, d)]
        if red is None:  # a bracket position: who fights it is bracket state; all its revisions count
            division.positions.add(bout_id)
            if revision is not None:
                division.log.append(decode_bracket_revision(bout_id, revision, kind, orjson.loads(payload)))
            continue
        division.bouts.append(Bout(bout_id, red, blue))
        if revision is not None:
            result = decode_revision(bout_id, revision, kind, orjson.loads(payload))
            if isinstance(result, BoutResult):  # the effective revision is never a void
                division.results[bout_id] = result
    for t, d, athlete, bracket in fetchall(session, _DIVISION_ENTRIES, params):
        if bracket is None:
            inputs[(t, d)].entries.append(athlete)
        else:
            inputs[(t, d)].bracket = orjson.loads(bracket)
    return inputs


def load_standings(session: Session, keys: Collection[DivisionKey]) -> dict[DivisionKey, dict[str, StoredStanding]]:
    """The published standings rows of ``keys``: division -> athlete -> row and previous rank."""
    out: dict[DivisionKey, dict[str, StoredStanding]] = {key: {} for key in keys}
    if not keys:
        return out
    ts, ds = split_keys(keys)
    for t, d, athlete, *columns, previous in fetchall(session, _STANDINGS, {"t": ts, "d": ds}):
        out[(t, d)][athlete] = StoredStanding(StandingRow(athlete, *columns), previous)  # columns in field order
    return out


def write_standings(session: Session, changes: Mapping[DivisionKey, StandingsChange]) -> None:
    """Apply each division's change (rows upserted with their previous rank, dropped athletes
    deleted): the one writer of ``standings_rows`` for the projector, a registration refresh and a replay."""
    upserts = [(key, s) for key, change in changes.items() for s in change.upserts]
    deletes = [(key, athlete) for key, change in changes.items() for athlete in change.deletes]
    if upserts:
        rows_json = [
            {
                "t": t,
                "d": d,
                "a": s.row.athlete_id,
                "rank": s.row.rank,
                "bouts": s.row.bouts,
                "wins": s.row.wins,
                "losses": s.row.losses,
                "draws": s.row.draws,
                "points": s.row.points,
                "finishes": s.row.finishes,
                "tp_for": s.row.tp_for,
                "tp_against": s.row.tp_against,
                "tied": s.row.tie_unresolved,
                "prev": s.previous_rank,
            }
            for (t, d), s in upserts
        ]
        run(session, _UPSERT_STANDINGS, {"rows": _json(rows_json)})
    if deletes:
        run(
            session,
            _DELETE_STANDINGS,
            {"t": [k[0] for k, _ in deletes], "d": [k[1] for k, _ in deletes], "a": [a for _, a in deletes]},
        )


Known = Mapping[DivisionKey, tuple[DivisionInput, dict[str, StoredStanding]]]
Remember = Callable[[DivisionKey, DivisionInput, dict[str, StoredStanding], StandingsChange | None], None]


def recompute_standings(
    session: Session,
    keys: Collection[DivisionKey],
    rulesets: Mapping[DivisionKey, Ruleset],
    known: Known | None = None,
    remember: Remember | None = None,
) -> set[DivisionKey]:
    """Recompute the standings of ``keys`` and write the rows that differ; returns the divisions
    whose rows changed. ``previous_rank`` keeps the rank an athlete had before the change that
    moved them. A bracket division's rows are its placings (SPEC §7), and its ``bracket_bouts``
    rows that changed are written with them. ``known``: inputs and published rows the caller holds
    already (not read again); ``remember`` is told each division's inputs, rows and change."""
    if not keys:
        return set()
    keys = sorted(keys)
    known = known or {}
    missing = [key for key in keys if key not in known]
    inputs = {**load_standings_inputs(session, missing), **{k: v[0] for k, v in known.items()}}
    published = {**load_standings(session, missing), **{k: v[1] for k, v in known.items()}}
    changes: dict[DivisionKey, StandingsChange] = {}
    projections = {key: inputs[key].projection(key[1], rulesets[key]) for key in keys if inputs[key].bracket}
    brackets.write_projections(session, projections, {key: inputs[key].positions for key in projections})
    for key in keys:
        data = inputs[key]
        bracket = projections.get(key)
        rows = bd.division_rows(bracket, rulesets[key]) if bracket else compute_standings(*data.table(), rulesets[key])
        change = standings_change(rows, published[key])
        if change:
            changes[key] = change
        if remember is not None:
            remember(key, data, published[key], change)
    write_standings(session, changes)
    return set(changes)


def split_keys(keys: Iterable[DivisionKey]) -> tuple[list[str], list[str]]:
    ts: list[str] = []
    ds: list[str] = []
    for t, d in keys:
        ts.append(t)
        ds.append(d)
    return ts, ds
