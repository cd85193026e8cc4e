"""The intake's reads from PostgreSQL: bouts, their tournament's ruleset, divisions and applied revisions."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from services.core.db import driver, registration
from services.core.db.registration import BoutInfo


class AppliedRevision(NamedTuple):
    """A revision the projector has applied (``results`` row): kind ``result`` or ``void``."""

    revision: int
    kind: str
    payload: dict[str, Any]


class BracketSlots(NamedTuple):
    """A bracket bout's ``bracket_bouts`` row as the projector last wrote it: who stands in its slots."""

    status: str
    red: str | None
    blue: str | None
    waiting_for: str | None


class PostTarget(NamedTuple):
    """What a post to a bout is checked against: the bout, its tournament's ruleset, applied
    revisions, and for a bracket bout its slots (None for a round-robin bout)."""

    bout: BoutInfo
    ruleset: str
    applied: list[AppliedRevision]
    slots: BracketSlots | None = None

    @property
    def in_bracket(self) -> bool:
        """A bracket position: its athletes are bracket state, not fixed by registration."""
        return self.slots is not None or self.bout.red is None


_BOUT_AND_APPLIED = """
    SELECT b.tournament_id, b.division_id, b.red_athlete_id, b.blue_athlete_id, t.ruleset,
           bb.status, bb.red_athlete_id, bb.blue_athlete_id, bb.waiting_for,
           r.revision, r.kind, r.payload
    FROM bouts b
    JOIN tournaments t ON t.tournament_id = b.tournament_id
    LEFT JOIN bracket_bouts bb ON bb.bout_id = b.bout_id
    LEFT JOIN results r ON r.bout_id = b.bout_id AND r.revision >= %(revision)s
    WHERE b.bout_id = %(bout)s
    ORDER BY r.revision
"""


def bout_and_applied(session: Session, bout_id: str, revision: int) -> PostTarget | None:
    """The bout (None if unknown), its tournament's ruleset name, its applied revisions at or above
    ``revision`` and, for a bracket bout, its slots, in one round trip.

    Those revisions are what a new post at ``revision`` can conflict with. This read is on every
    referee post, so it is one constant statement on the driver connection, not an ORM lookup per table
    (a round-robin bout has no ``bracket_bouts`` row: the join is one primary-key probe).
    """
    rows = driver.fetchall(session, _BOUT_AND_APPLIED, {"bout": bout_id, "revision": revision})
    if not rows:
        return None
    t, d, red, blue, ruleset, status, slot_red, slot_blue, waiting_for = rows[0][:9]
    applied = [AppliedRevision(int(r), str(k), dict(p or {})) for *_, r, k, p in rows if r is not None]
    slots = None if status is None else BracketSlots(str(status), slot_red, slot_blue, waiting_for)
    return PostTarget(BoutInfo(bout_id, t, d, red, blue), str(ruleset), applied, slots)


def tournament_exists(session: Session, tournament_id: str) -> bool:
    return registration.get_tournament(session, tournament_id) is not None


def division_ids(session: Session, tournament_id: str) -> list[str]:
    return [d.division_id for d in registration.tournament_divisions(session, tournament_id)]
