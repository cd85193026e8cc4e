"""Queries of the ops tooling that the projector's repositories do not already provide.

Consumer members and positions come from ``services.core.db.consumers``; division inputs, the
published standings, their writer (with the ``previous_rank`` rule), the division version bump and
NOTIFY from ``services.core.db.projection``. Only what replay needs on top lives here. The caller
owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any, NamedTuple

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from services.core.db.schema import BoutRow, ConsumerPosition, Division, ResultRow
from services.core.domain.projection import DivisionKey


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
