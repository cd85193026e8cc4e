"""The change feed to the search index (``ranking_changes``) and its readers' positions.

Writers append a row per ranking document they change, in their own transaction, with no lock
shared between them: each row carries its writer's transaction id (``txid``) and a sequence id.
Ids from a sequence do not commit in order (a transaction that took id 10 may commit after one
that took id 11), so a reader that remembered "the highest id done" would skip 10. Readers go in
``(txid, change_id)`` order instead, and only below the *horizon*: the oldest transaction id still
running (``pg_snapshot_xmin``). Every transaction below it has ended, so all its rows are visible,
and a row that commits later has a txid at or above the horizon: it sorts after everything read.
A write transaction left open for minutes anywhere on the server holds the horizon back; the
freshness gauges then show it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import ColumnElement, Connection, delete, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.core.db import driver
from services.core.db.schema import FeedPosition as PositionRow
from services.core.db.schema import RankingChange, RankingRequest
from services.rankings.model import START, Backlog, Change, DocKey, FeedPosition

NOTIFY_CHANNEL = "ranking_changes"
INDEXER = "rankings-indexer"
_END = 2**63 - 1

_APPEND = """
    INSERT INTO ranking_changes (category, athlete_id, created_at)
    SELECT k.category, k.athlete_id, clock_timestamp()
    FROM unnest(%(c)b::text[], %(a)b::text[]) AS k(category, athlete_id)
    ORDER BY k.category, k.athlete_id
    RETURNING change_id, category, athlete_id
"""
_NOTIFY = "SELECT pg_notify(%(channel)s, '')"
_HORIZON = text("SELECT (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")


def append_changes(session: Session, keys: Collection[DocKey]) -> dict[DocKey, int]:
    """One feed row per document; key -> its id (the document's new version). Wakes the indexer
    (NOTIFY, delivered at commit). The caller holds the documents' category locks, so versions
    grow per document in commit order."""
    if not keys:
        return {}
    session.flush()
    rows = driver.fetchall(session, _APPEND, {"c": [k[0] for k in keys], "a": [k[1] for k in keys]})
    notify(session)
    return {(cat, athlete): change_id for change_id, cat, athlete in rows}


def notify(session: Session) -> None:
    driver.run(session, _NOTIFY, {"channel": NOTIFY_CHANNEL})


def horizon(session: Session | Connection) -> int:
    """The oldest transaction id still running: rows of every transaction below it are visible."""
    return int(session.execute(_HORIZON).scalar_one())


def _after(position: FeedPosition) -> ColumnElement[bool]:
    return tuple_(RankingChange.txid, RankingChange.change_id) > tuple_(position.txid, position.change_id)


def read_changes(
    session: Session | Connection, after: FeedPosition, limit: int, upto: FeedPosition | None = None
) -> list[Change]:
    """Feed rows after ``after`` (up to ``upto``) below the horizon, in feed order."""
    safe_below = horizon(session)
    query = (
        select(
            RankingChange.change_id,
            RankingChange.category,
            RankingChange.athlete_id,
            RankingChange.created_at,
            RankingChange.txid,
        )
        .where(_after(after), RankingChange.txid < safe_below)
        .order_by(RankingChange.txid, RankingChange.change_id)
        .limit(limit)
    )
    if upto is not None:
        query = query.where(~_after(upto))
    return [Change(*r) for r in session.execute(query)]


def snapshot_position(session: Session | Connection) -> FeedPosition:
    """In a REPEATABLE READ transaction: a position every change of the snapshot's data is at or
    before (rows of transactions below the snapshot's horizon); later rows may repeat some."""
    return FeedPosition(horizon(session) - 1, _END)


def head(session: Session | Connection) -> FeedPosition:
    """The last row of the feed as it stands (committed rows only)."""
    row = session.execute(
        select(RankingChange.txid, RankingChange.change_id)
        .order_by(RankingChange.txid.desc(), RankingChange.change_id.desc())
        .limit(1)
    ).first()
    return FeedPosition(int(row[0]), int(row[1])) if row else START


def count_after(session: Session | Connection, after: FeedPosition) -> int:
    return int(session.scalar(select(func.count()).select_from(RankingChange).where(_after(after))) or 0)


def pending_keys(session: Session | Connection, after: FeedPosition) -> set[DocKey]:
    """Documents with a feed row after ``after`` (in flight: the audit does not call them drift)."""
    rows = session.execute(select(RankingChange.category, RankingChange.athlete_id).where(_after(after)).distinct())
    return {(c, a) for c, a in rows}


# --- positions ------------------------------------------------------------------------------------


def get_position(session: Session | Connection, reader: str = INDEXER) -> FeedPosition:
    row = session.execute(select(PositionRow.txid, PositionRow.change_id).where(PositionRow.reader == reader)).first()
    return FeedPosition(int(row[0]), int(row[1])) if row else START


def advance_position(session: Session, done: FeedPosition, reader: str = INDEXER) -> None:
    """Every row up to ``done`` is in the index; a position never moves backwards here."""
    stmt = insert(PositionRow).values(reader=reader, txid=done.txid, change_id=done.change_id)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["reader"],
            set_={"txid": stmt.excluded.txid, "change_id": stmt.excluded.change_id, "updated_at": func.now()},
            where=tuple_(PositionRow.txid, PositionRow.change_id) < tuple_(stmt.excluded.txid, stmt.excluded.change_id),
        )
    )


def rewind_position(session: Session, done: FeedPosition, reader: str = INDEXER) -> None:
    """Move the position back to ``done`` if it is past it (those rows are sent again)."""
    session.execute(
        update(PositionRow)
        .where(PositionRow.reader == reader)
        .where(tuple_(PositionRow.txid, PositionRow.change_id) > tuple_(done.txid, done.change_id))
        .values(txid=done.txid, change_id=done.change_id, updated_at=func.now())
    )


def backlog(session: Session | Connection, reader: str = INDEXER) -> Backlog:
    """Feed rows not yet indexed plus categories waiting for a re-rank, and the oldest's age."""
    position = get_position(session, reader)
    changes, oldest_change = session.execute(
        select(func.count(), func.min(RankingChange.created_at)).where(_after(position))
    ).one()
    requests, oldest_request = session.execute(
        select(func.count(func.distinct(RankingRequest.category)), func.min(RankingRequest.requested_at))
    ).one()
    oldest = min((t for t in (oldest_change, oldest_request) if t is not None), default=None)
    return Backlog(int(changes or 0) + int(requests or 0), oldest)


def prune_changes(session: Session, older_than: dt.timedelta, reader: str = INDEXER) -> int:
    """Drop indexed feed rows older than ``older_than`` (the reindex only needs recent ones)."""
    position = get_position(session, reader)
    result = session.execute(
        delete(RankingChange).where(
            ~_after(position),
            RankingChange.created_at < func.now() - older_than,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
