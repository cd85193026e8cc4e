"""Consumer positions (the applied offset, stored with the effects) and group-member heartbeats.

``consumer_positions`` is the source of truth for where a projector resumes: it is written in the
same transaction as the rows a batch projects. ``consumer_members`` holds each member's effective
config fingerprint and heartbeat so that ops can spot a member whose config drifts or that is stuck.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.core.db.schema import ConsumerMember, ConsumerPosition

TopicPartitionKey = tuple[str, int]

# Creates missing rows and locks all of them (in a fixed order, so two members never deadlock).
# The no-op update makes ON CONFLICT take the row lock and return the stored offset; a member that
# takes over a partition mid-batch waits here until the previous owner's transaction has ended and
# then sees its offsets, so a batch is never applied twice.
_LOCK_POSITIONS = text(
    """
    INSERT INTO consumer_positions AS cp (consumer_group, topic, partition, next_offset)
    SELECT :group, k.topic, k.partition, 0
    FROM unnest(CAST(:topics AS text[]), CAST(:partitions AS int[])) AS k(topic, partition)
    ORDER BY k.topic, k.partition
    ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = cp.next_offset
    RETURNING cp.topic, cp.partition, cp.next_offset
    """
)

# GREATEST: a position never moves backwards through the projector (a replay is an ops action).
_SAVE_POSITIONS = text(
    """
    INSERT INTO consumer_positions AS cp (consumer_group, topic, partition, next_offset, updated_at)
    SELECT :group, k.topic, k.partition, k.next_offset, now()
    FROM unnest(CAST(:topics AS text[]), CAST(:partitions AS int[]), CAST(:offsets AS bigint[]))
         AS k(topic, partition, next_offset)
    ORDER BY k.topic, k.partition
    ON CONFLICT (consumer_group, topic, partition)
    DO UPDATE SET next_offset = GREATEST(cp.next_offset, EXCLUDED.next_offset), updated_at = now()
    """
)


def load_positions(session: Session, group: str, topic: str, partitions: Collection[int]) -> dict[int, int]:
    """partition -> next offset to apply, for the partitions that have a stored position."""
    if not partitions:
        return {}
    rows = session.execute(
        select(ConsumerPosition.partition, ConsumerPosition.next_offset).where(
            ConsumerPosition.consumer_group == group,
            ConsumerPosition.topic == topic,
            ConsumerPosition.partition.in_(list(partitions)),
        )
    )
    return {int(p): int(o) for p, o in rows}


def lock_positions(session: Session, group: str, keys: Collection[TopicPartitionKey]) -> dict[TopicPartitionKey, int]:
    """Lock (creating at 0 when missing) the positions of ``keys``; return their stored next offsets."""
    if not keys:
        return {}
    ordered = sorted(keys)
    rows = session.execute(
        _LOCK_POSITIONS,
        {"group": group, "topics": [t for t, _ in ordered], "partitions": [p for _, p in ordered]},
    )
    return {(t, int(p)): int(o) for t, p, o in rows}


def save_positions(session: Session, group: str, positions: Mapping[TopicPartitionKey, int]) -> None:
    """Upsert the next offsets (never moving one backwards), in the caller's transaction."""
    if not positions:
        return
    ordered = sorted(positions.items())
    session.execute(
        _SAVE_POSITIONS,
        {
            "group": group,
            "topics": [t for (t, _), _ in ordered],
            "partitions": [p for (_, p), _ in ordered],
            "offsets": [o for _, o in ordered],
        },
    )


def reset_positions(session: Session, group: str, topic: str | None = None) -> int:
    """Forget a group's positions (ops replay from the beginning); returns rows deleted."""
    stmt = delete(ConsumerPosition).where(ConsumerPosition.consumer_group == group)
    if topic is not None:
        stmt = stmt.where(ConsumerPosition.topic == topic)
    return session.execute(stmt).rowcount or 0  # type: ignore[attr-defined]


def upsert_member(
    session: Session,
    *,
    group: str,
    member_id: str,
    host: str,
    pid: int,
    fingerprint: str,
    config: Mapping[str, Any],
    assigned: Collection[int],
    lag: Mapping[str, int] | None = None,
) -> None:
    """Record (or refresh) a member's heartbeat, effective config and assignment."""
    values = {
        "consumer_group": group,
        "member_id": member_id,
        "host": host,
        "pid": pid,
        "fingerprint": fingerprint,
        "config": dict(config),
        "assigned": sorted(assigned),
        "lag": dict(lag or {}),
    }
    stmt = insert(ConsumerMember).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["consumer_group", "member_id"],
        set_={
            "host": stmt.excluded.host,
            "pid": stmt.excluded.pid,
            "fingerprint": stmt.excluded.fingerprint,
            "config": stmt.excluded.config,
            "assigned": stmt.excluded.assigned,
            "lag": stmt.excluded.lag,
            "heartbeat_at": func.now(),
        },
    )
    session.execute(stmt)


def delete_member(session: Session, group: str, member_id: str) -> None:
    session.execute(
        delete(ConsumerMember).where(ConsumerMember.consumer_group == group, ConsumerMember.member_id == member_id)
    )


def list_members(session: Session, group: str) -> list[ConsumerMember]:
    return list(
        session.scalars(
            select(ConsumerMember).where(ConsumerMember.consumer_group == group).order_by(ConsumerMember.member_id)
        )
    )


def lag_by_partition(raw: object) -> dict[int, int]:
    """A member row's ``lag``: ``{"3": 12}`` or ``{"match-events": {"3": 12}}`` (the projector owns the
    exact shape) as partition -> lag; anything else is ignored."""
    out: dict[int, int] = {}
    if not isinstance(raw, Mapping):
        return out
    for key, value in raw.items():
        if isinstance(value, Mapping):
            out.update(lag_by_partition(value))
            continue
        try:
            out[int(str(key).rsplit(":", 1)[-1])] = int(value)
        except (TypeError, ValueError):
            continue
    return out
