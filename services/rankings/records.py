"""Ranking rows with their athletes, read for the indexer, the reindex and the audit."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import Connection, Select, func, select, tuple_
from sqlalchemy.orm import Session

from services.core.db.schema import Athlete
from services.core.db.schema import Ranking as RankingRow
from services.rankings.model import DocKey, RankingRecord


def _record_query() -> Select[*tuple[Any, ...]]:
    return select(
        RankingRow.category,
        RankingRow.athlete_id,
        Athlete.full_name,
        Athlete.country,
        RankingRow.rank,
        RankingRow.points,
        RankingRow.best_award,
        RankingRow.awards,
        RankingRow.provisional_points,
        RankingRow.version,
    ).join(Athlete, Athlete.athlete_id == RankingRow.athlete_id)


def _record(row: Any) -> RankingRecord:
    cat, athlete, name, country, rank, points, best, awards, prov, version = row
    return RankingRecord(
        cat, athlete, name, country, int(rank), float(points), float(best), int(awards), float(prov), int(version)
    )


def load_records(session: Session | Connection, keys: Collection[DocKey]) -> dict[DocKey, RankingRecord]:
    """Current ranking rows (with athlete data) of ``keys``; absent keys have no row (deleted)."""
    if not keys:
        return {}
    rows = session.execute(_record_query().where(tuple_(RankingRow.category, RankingRow.athlete_id).in_(list(keys))))
    records = (_record(r) for r in rows)
    return {r.key: r for r in records}


def iter_records(session: Session | Connection, batch: int = 5000) -> Iterator[RankingRecord]:
    """Every ranking row, streamed through a server-side cursor (for reindex and the full audit)."""
    result = session.execute(
        _record_query().order_by(RankingRow.category, RankingRow.athlete_id).execution_options(yield_per=batch)
    )
    for row in result:
        yield _record(row)


def count_records(session: Session | Connection) -> int:
    return int(session.scalar(select(func.count()).select_from(RankingRow)) or 0)


def sample_keys(session: Session, n: int) -> list[DocKey]:
    """Up to ``n`` random document keys (the audit's sample)."""
    rows = session.execute(select(RankingRow.category, RankingRow.athlete_id).order_by(func.random()).limit(n))
    return [(c, a) for c, a in rows]
