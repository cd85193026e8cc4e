"""Re-rank requests: categories whose awards changed, waiting for the rankings stage.

The projector only inserts (no row another member could hold), in its batch transaction; the
rankings stage takes the pending requests grouped per category, re-ranks each category once and
deletes the requests it saw. A request committed after that read stays for the next round, and the
re-rank reads the awards as they stand, so nothing is missed and a burst costs one re-rank.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.core.db import driver
from services.core.db.schema import RankingRequest
from services.rankings import feed

_INSERT = """
    INSERT INTO ranking_requests (category)
    SELECT c FROM unnest(%(c)b::text[]) AS k(c)
"""


def request_reranks(session: Session, categories: Collection[str]) -> None:
    """Ask for these categories to be re-ranked (and wake the rankings stage at commit)."""
    if not categories:
        return
    driver.run(session, _INSERT, {"c": sorted(set(categories))})
    feed.notify(session)


def pending(session: Session, limit: int) -> dict[str, list[int]]:
    """Up to ``limit`` categories with requests, oldest first, each with the ids seen."""
    rows = session.execute(
        select(RankingRequest.category, func.array_agg(RankingRequest.request_id))
        .group_by(RankingRequest.category)
        .order_by(func.min(RankingRequest.request_id))
        .limit(limit)
    )
    return {category: list(ids) for category, ids in rows}


def done(session: Session, request_ids: Collection[int]) -> None:
    if request_ids:
        session.execute(delete(RankingRequest).where(RankingRequest.request_id.in_(list(request_ids))))
