"""Queries of the ops tooling that the projector's repositories do not already provide.

Consumer members and positions come from ``services.core.db.consumers``; division inputs, the
division version bump and NOTIFY from ``services.core.db.projection``. Only what replay needs on
top lives here. The caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.core.db.schema import BoutRow, ConsumerPosition, Division, ResultRow, StandingsRow
from services.core.domain.standings import StandingRow

DivisionKey = tuple[str, str]


class StoredResult(NamedTuple):
    """A ``results`` row with the division of its bout."""

    tournament_id: str
    division_id: str
    bout_id: str
    revision: int
    kind: str
    payload: dict[str, Any]
    partition: int
    offset: int


class DivisionState(NamedTuple):
    last_event_at: dt.datetime | None
    last_partition: int | None
    last_offset: int | None


@dataclass(frozen=True, slots=True)
class StoredStanding:
    """A ``standings_rows`` row as the projector wrote it."""

    row: StandingRow
    previous_rank: int | None


def db_now(session: Session) -> dt.datetime:
    """The database clock (heartbeats are stamped with it, so staleness is judged against it)."""
    now = session.scalar(select(func.now()))
    assert now is not None
    return now


def group_positions(session: Session, group: str, topic: str) -> dict[int, int]:
    """Every stored position of ``group`` on ``topic``: partition -> next offset."""
    rows = session.execute(
        select(ConsumerPosition.partition, ConsumerPosition.next_offset).where(
            ConsumerPosition.consumer_group == group, ConsumerPosition.topic == topic
        )
    )
    return {int(p): int(o) for p, o in rows}


def lock_positions(session: Session, group: str, topic: str, partitions: Collection[int]) -> dict[int, int]:
    """Lock the stored positions of ``group`` (existing rows only, in key order): a projector batch
    on those partitions waits until the caller's transaction ends. partition -> next offset."""
    if not partitions:
        return {}
    rows = session.execute(
        select(ConsumerPosition.partition, ConsumerPosition.next_offset)
        .where(
            ConsumerPosition.consumer_group == group,
            ConsumerPosition.topic == topic,
            ConsumerPosition.partition.in_(sorted(partitions)),
        )
        .order_by(ConsumerPosition.partition)
        .with_for_update()
    )
    return {int(p): int(o) for p, o in rows}


def stored_results(session: Session, keys: Collection[DivisionKey]) -> list[StoredResult]:
    """Every applied revision of the bouts of ``keys``, in source order."""
    if not keys:
        return []
    rows = session.execute(
        select(
            BoutRow.tournament_id,
            BoutRow.division_id,
            ResultRow.bout_id,
            ResultRow.revision,
            ResultRow.kind,
            ResultRow.payload,
            ResultRow.source_partition,
            ResultRow.source_offset,
        )
        .join(BoutRow, BoutRow.bout_id == ResultRow.bout_id)
        .where(tuple_(BoutRow.tournament_id, BoutRow.division_id).in_(sorted(keys)))
        .order_by(ResultRow.source_partition, ResultRow.source_offset)
    )
    return [StoredResult(*row) for row in rows]


def division_states(session: Session, keys: Collection[DivisionKey]) -> dict[DivisionKey, DivisionState]:
    if not keys:
        return {}
    rows = session.execute(
        select(
            Division.tournament_id,
            Division.division_id,
            Division.last_event_at,
            Division.last_partition,
            Division.last_offset,
        ).where(tuple_(Division.tournament_id, Division.division_id).in_(sorted(keys)))
    )
    return {(t, d): DivisionState(at, p, o) for t, d, at, p, o in rows}


def load_standings(session: Session, keys: Collection[DivisionKey]) -> dict[DivisionKey, dict[str, StoredStanding]]:
    """The stored standings of ``keys``: division -> athlete -> row."""
    out: dict[DivisionKey, dict[str, StoredStanding]] = {key: {} for key in keys}
    if not keys:
        return out
    for s in session.scalars(
        select(StandingsRow).where(tuple_(StandingsRow.tournament_id, StandingsRow.division_id).in_(sorted(keys)))
    ):
        row = StandingRow(
            athlete_id=s.athlete_id,
            rank=s.rank,
            bouts=s.bouts,
            wins=s.wins,
            losses=s.losses,
            draws=s.draws,
            points=s.points,
            finishes=s.finishes,
            tp_for=s.tp_for,
            tp_against=s.tp_against,
            tie_unresolved=s.tie_unresolved,
        )
        out[(s.tournament_id, s.division_id)][s.athlete_id] = StoredStanding(row, s.previous_rank)
    return out


def write_standings(
    session: Session,
    key: DivisionKey,
    rows: Sequence[StandingRow],
    stored: Mapping[str, StoredStanding],
) -> int:
    """Make the stored standings of ``key`` equal ``rows``; returns rows written or deleted.

    ``previous_rank`` follows the projector's rule: the old rank when the rank changes, else kept.
    """
    values = []
    for row in rows:
        old = stored.get(row.athlete_id)
        if old is not None and old.row == row:
            continue
        previous = None if old is None else (old.row.rank if old.row.rank != row.rank else old.previous_rank)
        values.append(
            {
                "tournament_id": key[0],
                "division_id": key[1],
                "athlete_id": row.athlete_id,
                "rank": row.rank,
                "bouts": row.bouts,
                "wins": row.wins,
                "losses": row.losses,
                "draws": row.draws,
                "points": row.points,
                "finishes": row.finishes,
                "tp_for": row.tp_for,
                "tp_against": row.tp_against,
                "tie_unresolved": row.tie_unresolved,
                "previous_rank": previous,
            }
        )
    if values:
        stmt = insert(StandingsRow).values(values)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tournament_id", "division_id", "athlete_id"],
                set_={
                    c: stmt.excluded[c] for c in values[0] if c not in {"tournament_id", "division_id", "athlete_id"}
                },
            )
        )
    gone = sorted(set(stored) - {row.athlete_id for row in rows})
    if gone:
        session.execute(
            delete(StandingsRow).where(
                StandingsRow.tournament_id == key[0],
                StandingsRow.division_id == key[1],
                StandingsRow.athlete_id.in_(gone),
            )
        )
    return len(values) + len(gone)
