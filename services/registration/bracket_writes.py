"""What re-importing a bracket division may change, and the rows its bouts and entries replace.

A bracket division's bouts and entries are derived from its description (format, repechage,
third place, advance, draw or pools), so they are replaced, not only upserted, when the
description changes: positions the new bracket does not have and entrants it no longer names go.
That is only allowed while the division has no result at all; once one is stored, changing the
description (or the format, either way) is a RegistrationConflict: counted results are never
silently undone. Round-robin divisions keep their rule (bouts upserted, never deleted).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from services.core.db.schema import BoutRow, Division, DivisionEntry, ResultRow
from services.registration.brackets import BracketPlan
from services.registration.model import RegistrationConflict, RegistrationFile

DivisionKey = tuple[str, str]
# The parts of ``divisions.bracket`` that decide the bracket (``seeds`` is for display: the
# resolved ``draw`` is what counts).
_DECISIVE = ("format", "repechage", "third_place", "advance", "draw", "pools")


def _decisive(fmt: str, bracket: Mapping[str, Any] | None) -> tuple[Any, ...]:
    return (fmt, *((bracket or {}).get(k) for k in _DECISIVE))


def _stored(session: Session, keys: list[DivisionKey]) -> dict[DivisionKey, Division]:
    if not keys:
        return {}
    rows = session.scalars(select(Division).where(tuple_(Division.tournament_id, Division.division_id).in_(keys)))
    return {(r.tournament_id, r.division_id): r for r in rows}


def _with_results(session: Session, keys: list[DivisionKey]) -> set[DivisionKey]:
    if not keys:
        return set()
    rows = session.execute(
        select(BoutRow.tournament_id, BoutRow.division_id)
        .join(ResultRow, ResultRow.bout_id == BoutRow.bout_id)
        .where(tuple_(BoutRow.tournament_id, BoutRow.division_id).in_(keys))
        .distinct()
    )
    return {(t, d) for t, d in rows}


def derived_divisions(
    session: Session, reg: RegistrationFile, plans: Mapping[DivisionKey, BracketPlan]
) -> set[DivisionKey]:
    """Divisions of the file whose bouts and entries are derived from a bracket description (now
    or as stored): they are replaced on write. Raises RegistrationConflict when one whose bracket
    changes already has results."""
    keys = sorted((t.tournament_id, d.division_id) for t in reg.tournaments for d in t.divisions)
    stored = _stored(session, keys)
    derived = {k for k in keys if k in plans or (k in stored and stored[k].format != "round_robin")}
    changed = []
    for key in sorted(derived & set(stored)):
        plan = plans.get(key)
        new = _decisive(plan.document["format"], plan.document) if plan else _decisive("round_robin", None)
        if new != _decisive(stored[key].format, stored[key].bracket):
            changed.append(key)
    problems = [
        f"tournament {t} division {d}: has results; its format, draw, seeds or pools cannot change "
        "(void the results first, or register a new division)"
        for t, d in sorted(_with_results(session, changed))
    ]
    if problems:
        raise RegistrationConflict(problems)
    return derived


def replace_derived(session: Session, key: DivisionKey, bout_ids: list[str], entrants: list[str]) -> None:
    """Drop the division's bouts not in ``bout_ids`` and entries not in ``entrants`` (the division
    has no results when they differ: see derived_divisions)."""
    t, d = key
    session.execute(
        delete(BoutRow).where(
            BoutRow.tournament_id == t,
            BoutRow.division_id == d,
            BoutRow.bout_id.not_in(bout_ids),
            BoutRow.bout_id.not_in(select(ResultRow.bout_id)),  # never a bout with results
        )
    )
    session.execute(
        delete(DivisionEntry).where(
            DivisionEntry.tournament_id == t, DivisionEntry.division_id == d, DivisionEntry.athlete_id.not_in(entrants)
        )
    )
