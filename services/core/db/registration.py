"""Registration data (tournaments, divisions, athletes, bouts): lookups and idempotent upserts."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.core.db.schema import Athlete, BoutRow, Division, DivisionEntry, Tournament
from services.core.domain.results import Bout


class BoutInfo(NamedTuple):
    """A registered bout; ``red``/``blue`` are None for a bracket bout (its slots are bracket state)."""

    bout_id: str
    tournament_id: str
    division_id: str
    red: str | None
    blue: str | None


def _bout_info(row: BoutRow) -> BoutInfo:
    return BoutInfo(row.bout_id, row.tournament_id, row.division_id, row.red_athlete_id, row.blue_athlete_id)


def get_bout(session: Session, bout_id: str) -> BoutInfo | None:
    row = session.get(BoutRow, bout_id)
    return _bout_info(row) if row else None


def load_bouts(session: Session, bout_ids: Collection[str]) -> dict[str, BoutInfo]:
    if not bout_ids:
        return {}
    rows = session.scalars(select(BoutRow).where(BoutRow.bout_id.in_(list(bout_ids))))
    return {r.bout_id: _bout_info(r) for r in rows}


def division_roster(session: Session, tournament_id: str, division_id: str) -> list[str]:
    """Athletes entered in the division plus any athlete scheduled in one of its bouts."""
    entered = session.scalars(
        select(DivisionEntry.athlete_id).where(
            DivisionEntry.tournament_id == tournament_id, DivisionEntry.division_id == division_id
        )
    )
    athletes = set(entered)
    for bout in division_bouts(session, tournament_id, division_id):
        athletes.update((bout.red, bout.blue))
    return sorted(athletes)


def division_bouts(session: Session, tournament_id: str, division_id: str) -> list[Bout]:
    """The division's bouts with fixed athletes (round robin; a bracket bout's slots are bracket state)."""
    rows = session.execute(
        select(BoutRow.bout_id, BoutRow.red_athlete_id, BoutRow.blue_athlete_id).where(
            BoutRow.tournament_id == tournament_id, BoutRow.division_id == division_id
        )
    )
    return [Bout(b, r, bl) for b, r, bl in rows if r is not None and bl is not None]


def tournament_divisions(session: Session, tournament_id: str) -> list[Division]:
    return list(
        session.scalars(select(Division).where(Division.tournament_id == tournament_id).order_by(Division.division_id))
    )


def get_tournament(session: Session, tournament_id: str) -> Tournament | None:
    return session.get(Tournament, tournament_id)


def has_registration(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Tournament)))


def upsert_tournaments(session: Session, rows: Iterable[dict[str, object]]) -> None:
    _upsert(session, Tournament, rows, ["tournament_id"])


def upsert_divisions(session: Session, rows: Iterable[dict[str, object]]) -> None:
    _upsert(session, Division, rows, ["tournament_id", "division_id"])


def upsert_athletes(session: Session, rows: Iterable[dict[str, object]]) -> None:
    _upsert(session, Athlete, rows, ["athlete_id"])


def upsert_entries(session: Session, rows: Iterable[dict[str, object]]) -> None:
    _upsert(session, DivisionEntry, rows, ["tournament_id", "division_id", "athlete_id"])


def upsert_bouts(session: Session, rows: Iterable[dict[str, object]]) -> None:
    _upsert(session, BoutRow, rows, ["bout_id"])


def _upsert(session: Session, model: type, rows: Iterable[dict[str, object]], keys: list[str]) -> None:
    batch = list(rows)
    if not batch:
        return
    columns = set(batch[0])
    if any(set(row) != columns for row in batch):
        # one multi-row VALUES takes its columns from the first row: a key only later rows carry
        # would be dropped without a word
        raise ValueError(f"{model.__name__} rows must all carry the same columns")
    stmt = insert(model).values(batch)
    updates = {c: stmt.excluded[c] for c in batch[0] if c not in keys}
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_=updates) if updates else stmt.on_conflict_do_nothing()
    session.execute(stmt)


def list_tournaments(session: Session) -> list[Tournament]:
    return list(session.scalars(select(Tournament).order_by(Tournament.start_date.desc(), Tournament.tournament_id)))
