"""The intake's reads from PostgreSQL: bouts, divisions and already applied revisions."""

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


_BOUT_AND_APPLIED = """
    SELECT b.tournament_id, b.division_id, b.red_athlete_id, b.blue_athlete_id, r.revision, r.kind, r.payload
    FROM bouts b
    LEFT JOIN results r ON r.bout_id = b.bout_id AND r.revision >= %(revision)s
    WHERE b.bout_id = %(bout)s
    ORDER BY r.revision
"""


def bout_and_applied(session: Session, bout_id: str, revision: int) -> tuple[BoutInfo | None, list[AppliedRevision]]:
    """The bout (None if unknown) and its applied revisions at or above ``revision``, in one round trip.

    Those revisions are what a new post at ``revision`` can conflict with. This read is on every
    referee post, so it is one constant statement on the driver connection, not an ORM lookup per table.
    """
    rows = driver.fetchall(session, _BOUT_AND_APPLIED, {"bout": bout_id, "revision": revision})
    if not rows:
        return None, []
    t, d, red, blue = rows[0][:4]
    applied = [AppliedRevision(int(r), str(k), dict(p or {})) for *_, r, k, p in rows if r is not None]
    return BoutInfo(bout_id, t, d, red, blue), applied


def tournament_exists(session: Session, tournament_id: str) -> bool:
    return registration.get_tournament(session, tournament_id) is not None


def division_ids(session: Session, tournament_id: str) -> list[str]:
    return [d.division_id for d in registration.tournament_divisions(session, tournament_id)]
