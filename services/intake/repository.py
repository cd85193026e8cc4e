"""The intake's reads from PostgreSQL: bouts, divisions and already applied revisions."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.db import registration
from services.core.db.registration import BoutInfo
from services.core.db.schema import ResultRow


class AppliedRevision(NamedTuple):
    """A revision the projector has applied (``results`` row): kind ``result`` or ``void``."""

    revision: int
    kind: str
    payload: dict[str, Any]


def bout(session: Session, bout_id: str) -> BoutInfo | None:
    return registration.get_bout(session, bout_id)


def applied_revisions_from(session: Session, bout_id: str, revision: int) -> list[AppliedRevision]:
    """Applied revisions of the bout at or above ``revision`` (what can conflict with a new post)."""
    rows = session.execute(
        select(ResultRow.revision, ResultRow.kind, ResultRow.payload)
        .where(ResultRow.bout_id == bout_id, ResultRow.revision >= revision)
        .order_by(ResultRow.revision)
    )
    return [AppliedRevision(int(r), str(k), dict(p or {})) for r, k, p in rows]


def tournament_exists(session: Session, tournament_id: str) -> bool:
    return registration.get_tournament(session, tournament_id) is not None


def division_ids(session: Session, tournament_id: str) -> list[str]:
    return [d.division_id for d in registration.tournament_divisions(session, tournament_id)]
