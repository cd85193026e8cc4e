"""The mat-table console's reads: a tournament's ruleset and one mat's bouts with their athletes,
bracket slots and latest stored revision, each in one statement."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from services.core.db import driver


class Corner(NamedTuple):
    """An athlete in a bout's slot (red or blue)."""

    athlete_id: str
    full_name: str
    country: str


class StoredRevision(NamedTuple):
    """A bout's highest revision in ``results`` (what the projector applied)."""

    revision: int
    kind: str
    payload: dict[str, Any]


class MatBout(NamedTuple):
    bout_id: str
    division_id: str
    division_name: str
    bout_order: int
    red: Corner | None
    blue: Corner | None
    # Bracket bouts only (None for round robin): phase, round, status and what an open slot waits for.
    phase: str | None
    round: int | None
    status: str | None
    waiting_for: str | None
    latest: StoredRevision | None


_RULESET = "SELECT ruleset FROM tournaments WHERE tournament_id = %(t)s"

# A bracket bout's athletes are bracket state (bracket_bouts), a round-robin bout's its registration.
_MAT_BOUTS = """
    SELECT b.bout_id, b.division_id, d.name, b.bout_order,
           ra.athlete_id, ra.full_name, ra.country, ba.athlete_id, ba.full_name, ba.country,
           bb.phase, bb.round, bb.status, bb.waiting_for,
           lr.revision, lr.kind, lr.payload
    FROM bouts b
    JOIN divisions d ON d.tournament_id = b.tournament_id AND d.division_id = b.division_id
    LEFT JOIN bracket_bouts bb ON bb.bout_id = b.bout_id
    LEFT JOIN athletes ra ON ra.athlete_id = COALESCE(bb.red_athlete_id, b.red_athlete_id)
    LEFT JOIN athletes ba ON ba.athlete_id = COALESCE(bb.blue_athlete_id, b.blue_athlete_id)
    LEFT JOIN LATERAL (
        SELECT r.revision, r.kind, r.payload FROM results r
        WHERE r.bout_id = b.bout_id ORDER BY r.revision DESC LIMIT 1
    ) lr ON true
    WHERE b.tournament_id = %(t)s AND b.mat = %(mat)s
    ORDER BY b.bout_order, b.bout_id
"""


def tournament_ruleset(session: Session, tournament_id: str) -> str | None:
    """The tournament's ruleset name, or None when there is no such tournament."""
    rows = driver.fetchall(session, _RULESET, {"t": tournament_id})
    return str(rows[0][0]) if rows else None


def _corner(athlete_id: str | None, name: str | None, country: str | None) -> Corner | None:
    return None if athlete_id is None else Corner(athlete_id, str(name), str(country))


def mat_bouts(session: Session, tournament_id: str, mat: int) -> list[MatBout]:
    """The bouts of ``mat`` in bout order (then bout id)."""
    rows = driver.fetchall(session, _MAT_BOUTS, {"t": tournament_id, "mat": mat})
    return [
        MatBout(
            bout_id=str(r[0]),
            division_id=str(r[1]),
            division_name=str(r[2]),
            bout_order=int(r[3]),
            red=_corner(r[4], r[5], r[6]),
            blue=_corner(r[7], r[8], r[9]),
            phase=r[10],
            round=r[11],
            status=r[12],
            waiting_for=r[13],
            latest=None if r[14] is None else StoredRevision(int(r[14]), str(r[15]), dict(r[16] or {})),
        )
        for r in rows
    ]
