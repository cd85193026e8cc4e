"""The intake's reads from PostgreSQL: bouts, divisions and already applied revisions."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from services.core.db import registration
from services.core.db.registration import BoutInfo
from services.core.db.schema import BoutRow, ResultRow


class AppliedRevision(NamedTuple):
    """A revision the projector has applied (``results`` row): kind ``result`` or ``void``."""

    revision: int
    kind: str
    payload: dict[str, Any]


def bout_and_applied(session: Session, bout_id: str, revision: int) -> tuple[BoutInfo | None, list[AppliedRevision]]:
    """The bout (None if unknown) and its applied revisions at or above ``revision``, in one round trip.

    Those revisions are what a new post at ``revision`` can conflict with. This read is on every
    referee post, so it is one statement, not a lookup per table.
    """
    rows = session.execute(
        select(
            BoutRow.tournament_id,
            BoutRow.division_id,
            BoutRow.red_athlete_id,
            BoutRow.blue_athlete_id,
            ResultRow.revision,
            ResultRow.kind,
            ResultRow.payload,
        )
        .select_from(BoutRow)
        .outerjoin(ResultRow, and_(ResultRow.bout_id == BoutRow.bout_id, ResultRow.revision >= revision))
        .where(BoutRow.bout_id == bout_id)
        .order_by(ResultRow.revision)
    ).all()
    if not rows:
        return None, []
    t, d, red, blue = rows[0][:4]
    applied = [AppliedRevision(int(r), str(k), dict(p or {})) for *_, r, k, p in rows if r is not None]
    return BoutInfo(bout_id, t, d, red, blue), applied


def tournament_exists(session: Session, tournament_id: str) -> bool:
    return registration.get_tournament(session, tournament_id) is not None


def division_ids(session: Session, tournament_id: str) -> list[str]:
    return [d.division_id for d in registration.tournament_divisions(session, tournament_id)]
