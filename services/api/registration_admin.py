"""Registration writes behind the admin API: one transaction each, validated like the import file.

Every write goes through the registration file model (``parse_registration``) and the one import
path (``services.registration``), so the admin API and ``standings import`` accept and refuse
exactly the same data and refresh the touched divisions the same way (standings rows, version,
NOTIFY in the write's transaction). This module maps the import's errors to problem+json and holds
the few checks only single-object routes need.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.core.db import registration as repo
from services.core.db.schema import Athlete, DivisionEntry, Tournament
from services.core.errors import Conflict, NotFound, Unprocessable
from services.registration.loader import ImportSummary, apply_registration, load_registration
from services.registration.model import (
    RegistrationConflict,
    RegistrationError,
    RegistrationFile,
    parse_registration,
)
from services.registration.refresh import (
    DivisionKey,
    divisions_of_athletes,
    divisions_of_tournament,
    lock_divisions,
)

__all__ = [
    "DivisionKey",
    "divisions_of_athletes",
    "divisions_of_tournament",
    "import_file",
    "lock_divisions",
    "remove_entries",
    "tournament_document",
    "write_document",
]


def invalid(problems: list[str]) -> Unprocessable:
    return Unprocessable(f"{len(problems)} problem(s) in the registration data", problems=problems)


def validate(session: Session, raw: bytes | str) -> RegistrationFile:
    """Parse against the file format and the athletes already in the database; 422 lists every problem."""
    known = set(session.scalars(select(Athlete.athlete_id)))
    try:
        return parse_registration(raw, known_athletes=known)
    except RegistrationError as exc:
        raise invalid(exc.problems) from None


def import_file(session: Session, raw: bytes | str) -> ImportSummary:
    """The registration import, all or nothing (the same path as ``standings import``)."""
    try:
        return load_registration(session, raw)
    except RegistrationConflict as exc:
        raise Conflict("; ".join(exc.problems), problems=exc.problems) from None
    except RegistrationError as exc:
        raise invalid(exc.problems) from None


def write_document(session: Session, document: dict[str, Any], keys: set[DivisionKey]) -> ImportSummary:
    """Validate and write a registration document built by a route, then refresh ``keys``."""
    reg = validate(session, orjson.dumps(document))
    try:
        return apply_registration(session, reg, keys)
    except RegistrationConflict as exc:
        raise Conflict("; ".join(exc.problems), problems=exc.problems) from None


def tournament_document(session: Session, tournament_id: str) -> dict[str, Any]:
    t = session.get(Tournament, tournament_id)
    if t is None:
        raise NotFound(f"tournament {tournament_id!r} does not exist")
    return {
        "tournament_id": t.tournament_id,
        "name": t.name,
        "tier": t.tier,
        "start_date": t.start_date,
        "end_date": t.end_date,
        "status": t.status,
        "ruleset": t.ruleset,
        "divisions": [],
    }


def remove_entries(session: Session, tournament_id: str, division_id: str, keep: Collection[str]) -> None:
    """Drop entries not in ``keep``; an athlete still scheduled in a bout of the division cannot leave."""
    current = set(
        session.scalars(
            select(DivisionEntry.athlete_id).where(
                DivisionEntry.tournament_id == tournament_id, DivisionEntry.division_id == division_id
            )
        )
    )
    leaving = current - set(keep)
    if not leaving:
        return
    scheduled = {
        a for b in repo.division_bouts(session, tournament_id, division_id) for a in (b.red, b.blue) if a in leaving
    }
    if scheduled:
        raise Conflict(
            f"athletes {sorted(scheduled)} have bouts in {tournament_id}/{division_id}; they cannot be removed"
        )
    session.execute(
        delete(DivisionEntry).where(
            DivisionEntry.tournament_id == tournament_id,
            DivisionEntry.division_id == division_id,
            DivisionEntry.athlete_id.in_(list(leaving)),
        )
    )
