"""Bracket divisions in PostgreSQL (SPEC §7): their bouts and revision log, and ``bracket_bouts``.

The one writer of ``bracket_bouts``: every position of a division as its results stand, only the
rows that changed, in the caller's transaction (projector batch, registration refresh, replay), so
the rows always match the division's standings rows. What a row holds is the pure domain's
(``domain.bracket_division``); the gauge ``standings_bracket_invalidated_bouts`` is set here, by the
writer. Statements run on the batch's psycopg connection like the rest of the projection.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import astuple
from typing import Any

import orjson
from sqlalchemy.orm import Session

from services.core import metrics
from services.core.db.driver import fetchall, run
from services.core.domain.bracket_division import (
    BracketBoutRow,
    BracketDivision,
    BracketProjection,
    bout_rows,
    division_bracket,
    invalidated_bouts,
)
from services.core.domain.projection import DivisionKey
from services.core.domain.results import Bout

_DIVISION_BOUTS = """
    SELECT b.tournament_id, b.division_id, b.bout_id, b.red_athlete_id, b.blue_athlete_id
    FROM unnest(%(t)b::text[], %(d)b::text[]) AS k(t, d)
    JOIN bouts b ON b.tournament_id = k.t AND b.division_id = k.d
"""

_STORED = """
    SELECT bb.tournament_id, bb.division_id, bb.bout_id, bb.phase, bb.round, bb.idx, bb.half, bb.status,
           bb.red_athlete_id, bb.blue_athlete_id, bb.waiting_for, bb.winner_athlete_id, bb.counted_revision,
           bb.invalidated_revision
    FROM unnest(%(t)b::text[], %(d)b::text[]) AS k(t, d)
    JOIN bracket_bouts bb ON bb.tournament_id = k.t AND bb.division_id = k.d
"""

_UPSERT = """
    INSERT INTO bracket_bouts AS bb (bout_id, tournament_id, division_id, phase, round, idx, half, status,
                                     red_athlete_id, blue_athlete_id, waiting_for, winner_athlete_id,
                                     counted_revision, invalidated_revision)
    SELECT k.bout_id, k.t, k.d, k.phase, k.round, k.idx, k.half, k.status, k.red, k.blue, k.waiting_for,
           k.winner, k.counted, k.invalidated
    FROM json_to_recordset(%(rows)s::json)
         AS k(bout_id text, t text, d text, phase text, round int, idx int, half text, status text, red text,
              blue text, waiting_for text, winner text, counted int, invalidated int)
    ON CONFLICT (bout_id) DO UPDATE SET
        tournament_id = EXCLUDED.tournament_id, division_id = EXCLUDED.division_id, phase = EXCLUDED.phase,
        round = EXCLUDED.round, idx = EXCLUDED.idx, half = EXCLUDED.half, status = EXCLUDED.status,
        red_athlete_id = EXCLUDED.red_athlete_id, blue_athlete_id = EXCLUDED.blue_athlete_id,
        waiting_for = EXCLUDED.waiting_for, winner_athlete_id = EXCLUDED.winner_athlete_id,
        counted_revision = EXCLUDED.counted_revision, invalidated_revision = EXCLUDED.invalidated_revision
"""

# The recordset's names for BracketBoutRow's fields, in field order.
_FIELDS = (
    "bout_id",
    "phase",
    "round",
    "idx",
    "half",
    "status",
    "red",
    "blue",
    "waiting_for",
    "winner",
    "counted",
    "invalidated",
)

_DELETE = "DELETE FROM bracket_bouts WHERE bout_id = ANY(%(ids)b::text[])"


def _split(keys: Iterable[DivisionKey]) -> dict[str, list[str]]:
    ordered = sorted(keys)
    return {"t": [k[0] for k in ordered], "d": [k[1] for k in ordered]}


def bracket_divisions(
    session: Session, described: Mapping[DivisionKey, Mapping[str, Any]]
) -> dict[DivisionKey, BracketDivision]:
    """Each bracket division's description (its ``divisions.bracket``) with its registered bouts
    (one statement): what the projector's planner needs besides the division's stored revisions."""
    if not described:
        return {}
    bouts: dict[DivisionKey, list[tuple[str, str | None, str | None]]] = {key: [] for key in described}
    for t, d, bout_id, red, blue in fetchall(session, _DIVISION_BOUTS, _split(described)):
        bouts[(t, d)].append((bout_id, red, blue))
    return {
        key: BracketDivision(
            division_bracket(key[1], data),
            tuple(Bout(b, r, bl) for b, r, bl in bouts[key] if r is not None and bl is not None),
            frozenset(b for b, _, _ in bouts[key]),
        )
        for key, data in described.items()
    }


def stored_rows(session: Session, keys: Collection[DivisionKey]) -> dict[DivisionKey, dict[str, BracketBoutRow]]:
    """The published ``bracket_bouts`` rows of ``keys``: division -> bout -> row."""
    out: dict[DivisionKey, dict[str, BracketBoutRow]] = {key: {} for key in keys}
    if keys:
        for t, d, *columns in fetchall(session, _STORED, _split(keys)):
            out[(t, d)][columns[0]] = BracketBoutRow(*columns)
    return out


def changed_rows(
    projections: Mapping[DivisionKey, BracketProjection],
    stored: Mapping[DivisionKey, Mapping[str, BracketBoutRow]],
    registered: Mapping[DivisionKey, Collection[str]],
) -> tuple[list[tuple[DivisionKey, BracketBoutRow]], list[tuple[DivisionKey, str]]]:
    """The rows to upsert (new or different; only positions with a registered bout) and the bout
    ids of stored rows that are no longer positions of their division."""
    upserts: list[tuple[DivisionKey, BracketBoutRow]] = []
    deletes: list[tuple[DivisionKey, str]] = []
    for key, projection in sorted(projections.items()):
        rows = {row.bout_id: row for row in bout_rows(projection) if row.bout_id in registered[key]}
        old = stored.get(key, {})
        upserts += [(key, row) for bout_id, row in rows.items() if old.get(bout_id) != row]
        deletes += [(key, bout_id) for bout_id in sorted(set(old) - set(rows))]
    return upserts, deletes


def write_projections(
    session: Session,
    projections: Mapping[DivisionKey, BracketProjection],
    registered: Mapping[DivisionKey, Collection[str]],
) -> set[DivisionKey]:
    """Write the ``bracket_bouts`` rows that changed and set the invalidated-bouts gauge; returns
    the divisions whose rows changed."""
    if not projections:
        return set()
    upserts, deletes = changed_rows(projections, stored_rows(session, list(projections)), registered)
    if upserts:
        rows = [{"t": t, "d": d, **dict(zip(_FIELDS, astuple(row), strict=True))} for (t, d), row in upserts]
        run(session, _UPSERT, {"rows": orjson.dumps(rows).decode()})
    if deletes:
        run(session, _DELETE, {"ids": [bout_id for _, bout_id in deletes]})
    for (t, d), projection in projections.items():
        metrics.BRACKET_INVALIDATED_BOUTS.labels(t, d).set(invalidated_bouts(projection))
    return {key for key, _ in upserts} | {key for key, _ in deletes}
