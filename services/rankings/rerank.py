"""The rankings stage: re-rank a category from its awards, under that category's lock only.

Every writer of ranking rows (a re-rank, a renamed athlete's re-index, the daily expiry recompute,
the audit's repair) takes the transaction-level advisory lock of each category it writes, in
category order, *before reading* what it recomputes. Two transactions never recompute one category
from stale reads, and a document's feed id (its index version) grows in commit order; different
categories never wait on each other. Nothing here runs on the projector's path: the projector only
records awards and requests (``services.rankings.awards``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, select, tuple_
from sqlalchemy.orm import Session

from services.core.db import driver
from services.core.db.schema import Ranking as RankingRow
from services.core.db.schema import RankingAward
from services.core.domain.ranking import RANKING_WINDOW_DAYS, Award, ranking_list
from services.rankings import requests
from services.rankings.awards import write_awards
from services.rankings.feed import append_changes
from services.rankings.model import UNRANKED, DivisionKey, DocKey, RankingContent, utc_today

_LOCK_CATEGORIES = """
    SELECT pg_advisory_xact_lock(hashtextextended('rankings:' || c, 0))
    FROM unnest(%(c)b::text[]) AS k(c) ORDER BY c
"""


def lock_categories(session: Session, categories: Iterable[str]) -> None:
    """Hold these categories' locks until the end of the transaction (in category order)."""
    ordered = sorted(set(categories))
    if ordered:
        driver.run(session, _LOCK_CATEGORIES, {"c": ordered})


def rerank(session: Session, categories: Collection[str], ranking_date: dt.date) -> int:
    """Recompute these categories' ranking lists (counted and provisional points) on
    ``ranking_date``; only changed documents reach the feed. Returns how many did."""
    lock_categories(session, categories)
    return _recompute_categories(session, categories, ranking_date)


def apply_ranking_effects(
    session: Session,
    touched: set[DivisionKey],
    finalized: set[DivisionKey],
    *,
    today: dt.date | None = None,
) -> int:
    """Awards of these divisions and their categories' re-rank, now, in the caller's transaction
    (admin paths: re-open, replay, the tests). Returns the number of documents changed."""
    categories = write_awards(session, touched, finalized)
    return rerank(session, categories, today or utc_today()) if categories else 0


def process_requests(engine: Engine, today: dt.date, limit: int = 50) -> int:
    """Re-rank the categories waiting for it, each in its own short transaction; returns how many
    categories were done (0: nothing pending)."""
    with Session(engine) as session:
        waiting = requests.pending(session, limit)
    for category, ids in waiting.items():
        with Session(engine) as session, session.begin():
            rerank(session, [category], today)
            requests.done(session, ids)
    return len(waiting)


def recompute_all_rankings(session: Session, ranking_date: dt.date) -> int:
    """The daily recompute: every category on ``ranking_date`` in one transaction (expired awards
    drop out); a long-running process prefers :func:`recompute_category` per category."""
    return rerank(session, ranking_categories(session), ranking_date)


def recompute_category(session: Session, category: str, ranking_date: dt.date) -> int:
    return rerank(session, [category], ranking_date)


def ranking_categories(session: Session) -> list[str]:
    """Every category with an award or a ranking row."""
    categories = set(session.scalars(select(RankingAward.category).distinct()))
    categories |= set(session.scalars(select(RankingRow.category).distinct()))
    return sorted(categories)


def _recompute_categories(session: Session, categories: Collection[str], ranking_date: dt.date) -> int:
    if not categories:
        return 0
    window_start = ranking_date - dt.timedelta(days=RANKING_WINDOW_DAYS)
    counted: list[Award] = []
    provisional: dict[DocKey, float] = defaultdict(float)
    rows = session.execute(
        select(
            RankingAward.tournament_id,
            RankingAward.division_id,
            RankingAward.category,
            RankingAward.athlete_id,
            RankingAward.placing,
            RankingAward.points,
            RankingAward.end_date,
            RankingAward.provisional,
        ).where(
            RankingAward.category.in_(sorted(categories)),
            # The window is applied again by ranking_list; this only keeps old awards out of memory.
            (RankingAward.provisional.is_(True)) | (RankingAward.end_date.between(window_start, ranking_date)),
        )
    )
    for t, d, cat, athlete, placing, points, end, prov in rows:
        if prov:
            provisional[(cat, athlete)] += points
        else:
            counted.append(Award(t, d, cat, athlete, placing, points, end))
    wanted: dict[DocKey, RankingContent] = {}
    for cat, entries in ranking_list(counted, ranking_date).items():
        for e in entries:
            wanted[(cat, e.athlete_id)] = RankingContent(e.rank, e.points, e.best_award, e.awards, 0.0)
    for key, points in provisional.items():
        base = wanted.get(key, UNRANKED)
        wanted[key] = RankingContent(base.rank, base.points, base.best_award, base.awards, points)
    wanted = {k: c for k, c in wanted.items() if c != UNRANKED}
    session.flush()
    stored = _stored_contents(session, _CATEGORY_CONTENTS, {"categories": sorted(categories)})
    return _write_changes(session, wanted, stored, ranking_date)


_CONTENTS_COLUMNS = "r.category, r.athlete_id, r.rank, r.points, r.best_award, r.awards, r.provisional_points"

_CATEGORY_CONTENTS = f"SELECT {_CONTENTS_COLUMNS} FROM rankings r WHERE r.category = ANY(%(categories)b::text[])"


def _stored_contents(session: Session, sql: str, params: Mapping[str, Any]) -> dict[DocKey, RankingContent]:
    """The stored ranking rows selected by ``sql`` (one of the ``*_CONTENTS`` statements)."""
    return {
        (cat, athlete): RankingContent(rank, float(points), float(best), awards, float(prov))
        for cat, athlete, rank, points, best, awards, prov in driver.fetchall(session, sql, params)
    }


_UPSERT_RANKINGS = """
    INSERT INTO rankings AS r (category, athlete_id, rank, points, best_award, awards, provisional_points,
                               ranking_date, version, updated_at)
    SELECT k.category, k.athlete_id, k.rank, k.points, k.best_award, k.awards, k.provisional_points,
           %(ranking_date)s, k.version, now()
    FROM unnest(%(c)b::text[], %(a)b::text[], %(ranks)b::int[], %(points)b::numeric[], %(best)b::numeric[],
                %(awards)b::int[], %(provisional)b::numeric[], %(versions)b::bigint[])
         AS k(category, athlete_id, rank, points, best_award, awards, provisional_points, version)
    ON CONFLICT (category, athlete_id) DO UPDATE SET
        rank = EXCLUDED.rank, points = EXCLUDED.points, best_award = EXCLUDED.best_award,
        awards = EXCLUDED.awards, provisional_points = EXCLUDED.provisional_points,
        ranking_date = EXCLUDED.ranking_date, version = EXCLUDED.version, updated_at = now()
"""

_DELETE_RANKINGS = """
    DELETE FROM rankings r
    USING unnest(%(c)b::text[], %(a)b::text[]) AS k(category, athlete_id)
    WHERE r.category = k.category AND r.athlete_id = k.athlete_id
"""

_SET_VERSIONS = """
    UPDATE rankings r SET version = k.version, updated_at = now()
    FROM unnest(%(c)b::text[], %(a)b::text[], %(versions)b::bigint[]) AS k(category, athlete_id, version)
    WHERE r.category = k.category AND r.athlete_id = k.athlete_id
"""


def _write_changes(
    session: Session,
    wanted: Mapping[DocKey, RankingContent],
    stored: Mapping[DocKey, RankingContent],
    ranking_date: dt.date,
) -> int:
    """Upsert changed rows, delete vanished ones, one outbox row each; versions = change ids."""
    upserts = sorted(k for k, c in wanted.items() if stored.get(k) != c)
    deletes = sorted(k for k in stored if k not in wanted)
    if not upserts and not deletes:
        return 0
    versions = append_changes(session, [*upserts, *deletes])
    if upserts:
        contents = [wanted[k] for k in upserts]
        driver.run(
            session,
            _UPSERT_RANKINGS,
            {
                "ranking_date": ranking_date,
                "c": [k[0] for k in upserts],
                "a": [k[1] for k in upserts],
                "ranks": [c.rank for c in contents],
                "points": [float(c.points) for c in contents],
                "best": [float(c.best_award) for c in contents],
                "awards": [c.awards for c in contents],
                "provisional": [float(c.provisional_points) for c in contents],
                "versions": [versions[k] for k in upserts],
            },
        )
    if deletes:
        driver.run(session, _DELETE_RANKINGS, {"c": [k[0] for k in deletes], "a": [k[1] for k in deletes]})
    return len(upserts) + len(deletes)


def touch_documents(session: Session, keys: Iterable[DocKey]) -> int:
    """Re-index documents whose athlete data changed (name, country): new version + feed row."""
    keys = sorted(set(keys))
    lock_categories(session, {c for c, _ in keys})
    existing = sorted(
        (c, a)
        for c, a in session.execute(
            select(RankingRow.category, RankingRow.athlete_id).where(
                tuple_(RankingRow.category, RankingRow.athlete_id).in_(keys)
            )
        )
    )
    if not existing:
        return 0
    versions = append_changes(session, existing)
    driver.run(
        session,
        _SET_VERSIONS,
        {"c": [k[0] for k in versions], "a": [k[1] for k in versions], "versions": list(versions.values())},
    )
    return len(existing)


def touch_athletes(session: Session, athlete_ids: Iterable[str]) -> int:
    """Re-index every ranking document of these athletes (call after renaming one)."""
    ids = sorted(set(athlete_ids))
    keys = session.execute(select(RankingRow.category, RankingRow.athlete_id).where(RankingRow.athlete_id.in_(ids)))
    return touch_documents(session, [(c, a) for c, a in keys])
