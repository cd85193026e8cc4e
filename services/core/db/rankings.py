"""Ranking awards, the ranking list and its outbox in PostgreSQL (SPEC §4). Callers own the transaction.

Versions: every content change of a ranking document appends a ``ranking_changes`` row and the
document's ``rankings.version`` becomes that row's ``change_id``. All writers take
``pg_advisory_xact_lock(RANKING_OUTBOX_LOCK)`` *before reading* what they recompute, so

* change ids (and therefore document versions) are assigned in commit order: the indexer's
  position never skips a change committed late, and the search index's external version of a
  document grows strictly with every content change, deletes included (a delete is indexed with
  the change id that removed the row, a later re-creation gets a higher one);
* two transactions never recompute the same category from stale reads.

A ranking row exists for every athlete with a counted award in the window or provisional points.
``rank`` 0 means "not ranked" (provisional points only); the document shows it as ``null``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, and_, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.core.db import driver
from services.core.db.schema import (
    Athlete,
    ConsumerPosition,
    RankingAward,
    RankingChange,
    ReindexJob,
)
from services.core.db.schema import Ranking as RankingRow
from services.core.domain.ranking import RANKING_WINDOW_DAYS, Award, Tier, awards_for_division, ranking_list
from services.core.domain.standings import StandingRow

# pg_advisory_xact_lock key of every ranking writer (ASCII "RANK"); reindex uses its own session lock.
RANKING_OUTBOX_LOCK = 0x52414E4B
REINDEX_LOCK = 0x52455858
INDEXER_GROUP = "rankings-indexer"
OUTBOX_TOPIC = "ranking_changes"
OUTBOX_PARTITION = 0
NOTIFY_CHANNEL = "ranking_changes"

DivisionKey = tuple[str, str]
DocKey = tuple[str, str]  # (category, athlete_id)


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True, slots=True)
class RankingContent:
    """What a ranking document shows (besides the athlete's name and country)."""

    rank: int
    points: float
    best_award: float
    awards: int
    provisional_points: float


UNRANKED = RankingContent(rank=0, points=0.0, best_award=0.0, awards=0, provisional_points=0.0)


@dataclass(frozen=True, slots=True)
class RankingRecord:
    """A ranking row joined with its athlete: everything a search document is built from."""

    category: str
    athlete_id: str
    name: str
    country: str
    rank: int
    points: float
    best_award: float
    awards: int
    provisional_points: float
    version: int

    @property
    def key(self) -> DocKey:
        return (self.category, self.athlete_id)


class Change(NamedTuple):
    change_id: int
    category: str
    athlete_id: str
    created_at: dt.datetime


class Backlog(NamedTuple):
    """Outbox rows not yet indexed: how many, and when the oldest was appended."""

    pending: int
    oldest_at: dt.datetime | None

    def age_s(self, now: dt.datetime | None = None) -> float:
        if self.oldest_at is None:
            return 0.0
        now = now or dt.datetime.now(dt.UTC)
        return max(0.0, (now - self.oldest_at).total_seconds())


def lock_outbox(session: Session | Connection) -> None:
    """Serialize ranking writers until the end of the transaction (see the module docstring)."""
    session.execute(select(func.pg_advisory_xact_lock(RANKING_OUTBOX_LOCK)))


# --- the projector's hook -------------------------------------------------------------------------


def apply_ranking_effects(
    session: Session,
    touched: set[DivisionKey],
    finalized: set[DivisionKey],
    *,
    today: dt.date | None = None,
) -> int:
    """Awards and rankings for a projector batch; returns the number of documents changed.

    Finalized divisions (or touched divisions of an already finalized tournament: a late correction)
    get final awards from their standings, replacing provisional ones, and their whole category is
    re-ranked (ranks of others shift). Touched divisions of live tournaments get provisional awards,
    which only change the provisional points of their athletes. A constant number of statements
    per batch, however many divisions it touched. Must run in a READ COMMITTED transaction: the
    lock is taken before anything it recomputes is read.
    """
    divisions = set(touched) | set(finalized)
    if not divisions:
        return 0
    today = today or utc_today()
    session.flush()
    # Registration data (category, tier, dates, status) is not what the lock protects.
    info = _division_info(session, divisions)
    final = {k for k, (*_, status) in info.items() if k in finalized or status == "finalized"}
    live = {k for k, (*_, status) in info.items() if k not in final and status == "live"}
    if not final and not live:
        return 0
    lock_outbox(session)
    standings = _standings(session, final | live)
    stored = _stored_awards(session, final | live)
    wanted: dict[DivisionKey, dict[str, _AwardRow]] = {}
    for key in final | live:
        category, tier, end_date, _ = info[key]
        provisional = key in live
        wanted[key] = {
            a.athlete_id: _AwardRow(a.category, a.rank, a.points, a.end_date, provisional)
            for a in awards_for_division(key[0], key[1], category, Tier(tier), end_date, standings.get(key, []))
        }
    changed_divisions = {k for k in wanted if wanted[k] != stored.get(k, {})}
    _write_awards(session, {k: wanted[k] for k in changed_divisions}, stored)
    # Counted points changed (final awards written, or final awards turned provisional by a re-open):
    # the whole category's ranks can shift.
    full_categories = {
        info[k][0]
        for k in changed_divisions
        if k in final or any(not award.provisional for award in stored.get(k, {}).values())
    }
    provisional_keys = {
        (info[k][0], athlete) for k in changed_divisions & live for athlete in set(wanted[k]) | set(stored.get(k, {}))
    }
    changed = _recompute_categories(session, full_categories, today)
    changed += _recompute_provisional(session, {k for k in provisional_keys if k[0] not in full_categories}, today)
    return changed


class _AwardRow(NamedTuple):
    category: str
    placing: int
    points: float
    end_date: dt.date
    provisional: bool


_DIVISION_INFO = """
    SELECT dv.tournament_id, dv.division_id, dv.category, t.tier, t.end_date, t.status
    FROM unnest(%(t)b::text[], %(d)b::text[]) AS k(t, d)
    JOIN divisions dv ON dv.tournament_id = k.t AND dv.division_id = k.d
    JOIN tournaments t ON t.tournament_id = dv.tournament_id
"""

_DIVISION_STANDINGS = """
    SELECT s.tournament_id, s.division_id, s.athlete_id, s.rank, s.bouts, s.wins, s.losses, s.draws, s.points,
           s.finishes, s.tp_for, s.tp_against, s.tie_unresolved
    FROM unnest(%(t)b::text[], %(d)b::text[]) AS k(t, d)
    JOIN standings_rows s ON s.tournament_id = k.t AND s.division_id = k.d
    ORDER BY s.tournament_id, s.division_id, s.rank, s.athlete_id
"""

_DIVISION_AWARDS = """
    SELECT a.tournament_id, a.division_id, a.athlete_id, a.category, a."placing", a.points, a.end_date, a.provisional
    FROM unnest(%(t)b::text[], %(d)b::text[]) AS k(t, d)
    JOIN ranking_awards a ON a.tournament_id = k.t AND a.division_id = k.d
"""

_DELETE_AWARDS = """
    DELETE FROM ranking_awards a
    USING unnest(%(t)b::text[], %(d)b::text[], %(a)b::text[]) AS k(tournament_id, division_id, athlete_id)
    WHERE a.tournament_id = k.tournament_id AND a.division_id = k.division_id AND a.athlete_id = k.athlete_id
"""

_UPSERT_AWARDS = """
    INSERT INTO ranking_awards AS r (tournament_id, division_id, athlete_id, category, "placing", points, end_date,
                                     provisional, awarded_at)
    SELECT k.t, k.d, k.a, k.category, k."placing", k.points, k.end_date, k.provisional, now()
    FROM unnest(%(t)b::text[], %(d)b::text[], %(a)b::text[], %(category)b::text[], %(placing)b::int[],
                %(points)b::numeric[], %(end_date)b::date[], %(provisional)b::bool[])
         AS k(t, d, a, category, "placing", points, end_date, provisional)
    ON CONFLICT (tournament_id, division_id, athlete_id) DO UPDATE SET
        category = EXCLUDED.category, "placing" = EXCLUDED."placing", points = EXCLUDED.points,
        end_date = EXCLUDED.end_date, provisional = EXCLUDED.provisional, awarded_at = now()
"""


def _division_arrays(keys: Collection[DivisionKey]) -> dict[str, list[str]]:
    ordered = sorted(keys)
    return {"t": [k[0] for k in ordered], "d": [k[1] for k in ordered]}


def _division_info(session: Session, keys: Collection[DivisionKey]) -> dict[DivisionKey, tuple[str, str, dt.date, str]]:
    rows = driver.fetchall(session, _DIVISION_INFO, _division_arrays(keys))
    return {(t, d): (cat, tier, end, status) for t, d, cat, tier, end, status in rows}


def _standings(session: Session, keys: Collection[DivisionKey]) -> dict[DivisionKey, list[StandingRow]]:
    out: dict[DivisionKey, list[StandingRow]] = defaultdict(list)
    for t, d, *values in driver.fetchall(session, _DIVISION_STANDINGS, _division_arrays(keys)):
        out[(t, d)].append(StandingRow(*values))
    return out


def _stored_awards(session: Session, keys: Collection[DivisionKey]) -> dict[DivisionKey, dict[str, _AwardRow]]:
    out: dict[DivisionKey, dict[str, _AwardRow]] = defaultdict(dict)
    for t, d, athlete, category, placing, points, end_date, provisional in driver.fetchall(
        session, _DIVISION_AWARDS, _division_arrays(keys)
    ):
        out[(t, d)][athlete] = _AwardRow(category, placing, float(points), end_date, provisional)
    return out


def _write_awards(
    session: Session,
    wanted: Mapping[DivisionKey, Mapping[str, _AwardRow]],
    stored: Mapping[DivisionKey, Mapping[str, _AwardRow]],
) -> None:
    """Make the stored awards of these divisions exactly ``wanted`` (one delete, one upsert)."""
    gone = [(k, a) for k in sorted(wanted) for a in sorted(set(stored.get(k, {})) - set(wanted[k]))]
    if gone:
        driver.run(
            session,
            _DELETE_AWARDS,
            {"t": [k[0] for k, _ in gone], "d": [k[1] for k, _ in gone], "a": [a for _, a in gone]},
        )
    rows = [
        (key, athlete, award)
        for key in sorted(wanted)
        for athlete, award in sorted(wanted[key].items())
        if stored.get(key, {}).get(athlete) != award
    ]
    if rows:
        driver.run(
            session,
            _UPSERT_AWARDS,
            {
                "t": [k[0] for k, _, _ in rows],
                "d": [k[1] for k, _, _ in rows],
                "a": [a for _, a, _ in rows],
                "category": [w.category for *_, w in rows],
                "placing": [w.placing for *_, w in rows],
                "points": [float(w.points) for *_, w in rows],
                "end_date": [w.end_date for *_, w in rows],
                "provisional": [w.provisional for *_, w in rows],
            },
        )


# --- recomputing ranking rows ---------------------------------------------------------------------


def recompute_all_rankings(session: Session, ranking_date: dt.date) -> int:
    """The daily recompute: every category on ``ranking_date`` (expired awards drop out).

    Only documents whose content changed reach the outbox; returns how many did. One transaction
    holds the outbox lock throughout; a long-running process prefers :func:`recompute_category`
    per category, each in its own short transaction.
    """
    lock_outbox(session)
    return _recompute_categories(session, ranking_categories(session), ranking_date)


def ranking_categories(session: Session) -> list[str]:
    """Every category with an award or a ranking row."""
    categories = set(session.scalars(select(RankingAward.category).distinct()))
    categories |= set(session.scalars(select(RankingRow.category).distinct()))
    return sorted(categories)


def recompute_category(session: Session, category: str, ranking_date: dt.date) -> int:
    """Recompute one category on ``ranking_date`` (takes the outbox lock for this transaction)."""
    lock_outbox(session)
    return _recompute_categories(session, [category], ranking_date)


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


_PROVISIONAL_SUMS = """
    SELECT a.category, a.athlete_id, sum(a.points)
    FROM unnest(%(c)b::text[], %(a)b::text[]) AS k(category, athlete_id)
    JOIN ranking_awards a ON a.category = k.category AND a.athlete_id = k.athlete_id AND a.provisional
    GROUP BY a.category, a.athlete_id
"""

_CONTENTS_COLUMNS = "r.category, r.athlete_id, r.rank, r.points, r.best_award, r.awards, r.provisional_points"

_KEYED_CONTENTS = f"""
    SELECT {_CONTENTS_COLUMNS}
    FROM unnest(%(c)b::text[], %(a)b::text[]) AS k(category, athlete_id)
    JOIN rankings r ON r.category = k.category AND r.athlete_id = k.athlete_id
"""

_CATEGORY_CONTENTS = f"SELECT {_CONTENTS_COLUMNS} FROM rankings r WHERE r.category = ANY(%(categories)b::text[])"


def _stored_contents(session: Session, sql: str, params: Mapping[str, Any]) -> dict[DocKey, RankingContent]:
    """The stored ranking rows selected by ``sql`` (one of the ``*_CONTENTS`` statements)."""
    return {
        (cat, athlete): RankingContent(rank, float(points), float(best), awards, float(prov))
        for cat, athlete, rank, points, best, awards, prov in driver.fetchall(session, sql, params)
    }


def _recompute_provisional(session: Session, keys: Collection[DocKey], ranking_date: dt.date) -> int:
    """Only the provisional points of ``keys`` change; counted points and ranks stay as stored."""
    if not keys:
        return 0
    key_list = sorted(keys)
    params = {"c": [k[0] for k in key_list], "a": [k[1] for k in key_list]}
    sums = {
        (cat, athlete): float(points) for cat, athlete, points in driver.fetchall(session, _PROVISIONAL_SUMS, params)
    }
    stored = _stored_contents(session, _KEYED_CONTENTS, params)
    wanted: dict[DocKey, RankingContent] = {}
    for key in key_list:
        base = stored.get(key, UNRANKED)
        content = RankingContent(base.rank, base.points, base.best_award, base.awards, sums.get(key, 0.0))
        if content != UNRANKED:
            wanted[key] = content
    return _write_changes(session, wanted, stored, ranking_date)


_APPEND_CHANGES = """
    INSERT INTO ranking_changes (category, athlete_id, created_at)
    SELECT k.category, k.athlete_id, clock_timestamp()
    FROM unnest(%(c)b::text[], %(a)b::text[]) AS k(category, athlete_id)
    ORDER BY k.category, k.athlete_id
    RETURNING change_id, category, athlete_id
"""

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

_NOTIFY_CHANGES = "SELECT pg_notify(%(channel)s, '')"


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


def append_changes(session: Session, keys: Collection[DocKey]) -> dict[DocKey, int]:
    """Append one outbox row per document (caller holds the outbox lock); key -> change id.

    Wakes the indexer with a NOTIFY (delivered at commit, collapsed per transaction).
    """
    if not keys:
        return {}
    session.flush()
    rows = driver.fetchall(session, _APPEND_CHANGES, {"c": [k[0] for k in keys], "a": [k[1] for k in keys]})
    driver.run(session, _NOTIFY_CHANGES, {"channel": NOTIFY_CHANNEL})
    return {(cat, athlete): change_id for change_id, cat, athlete in rows}


def touch_documents(session: Session, keys: Iterable[DocKey]) -> int:
    """Re-index documents whose athlete data changed (name, country): new version + outbox row."""
    lock_outbox(session)
    existing = sorted(
        (c, a)
        for c, a in session.execute(
            select(RankingRow.category, RankingRow.athlete_id).where(
                tuple_(RankingRow.category, RankingRow.athlete_id).in_(sorted(set(keys)))
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


# --- reading for the indexer, the reindex and the audit -------------------------------------------


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


def max_change_id(session: Session | Connection) -> int:
    return int(session.scalar(select(func.coalesce(func.max(RankingChange.change_id), 0))) or 0)


def read_changes(session: Session | Connection, after: int, limit: int, upto: int | None = None) -> list[Change]:
    """Outbox rows with ``after < change_id (<= upto)``, oldest first."""
    query = select(
        RankingChange.change_id, RankingChange.category, RankingChange.athlete_id, RankingChange.created_at
    ).where(RankingChange.change_id > after)
    if upto is not None:
        query = query.where(RankingChange.change_id <= upto)
    rows = session.execute(query.order_by(RankingChange.change_id).limit(limit))
    return [Change(*r) for r in rows]


def pending_keys(session: Session, after: int) -> set[DocKey]:
    """Documents with a change after ``after`` (not yet indexed: the audit does not call them drift)."""
    rows = session.execute(
        select(RankingChange.category, RankingChange.athlete_id).where(RankingChange.change_id > after).distinct()
    )
    return {(c, a) for c, a in rows}


def get_position(session: Session | Connection) -> int:
    """The highest change id the indexer has written (``consumer_positions.next_offset`` - 1)."""
    stored = session.scalar(
        select(ConsumerPosition.next_offset).where(
            ConsumerPosition.consumer_group == INDEXER_GROUP,
            ConsumerPosition.topic == OUTBOX_TOPIC,
            ConsumerPosition.partition == OUTBOX_PARTITION,
        )
    )
    return int(stored) - 1 if stored else 0


def advance_position(session: Session, done_upto: int) -> None:
    """Record that every change up to ``done_upto`` is in the index; never moves backwards."""
    stmt = insert(ConsumerPosition).values(
        consumer_group=INDEXER_GROUP, topic=OUTBOX_TOPIC, partition=OUTBOX_PARTITION, next_offset=done_upto + 1
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["consumer_group", "topic", "partition"],
            set_={
                "next_offset": func.greatest(ConsumerPosition.next_offset, stmt.excluded.next_offset),
                "updated_at": func.now(),
            },
        )
    )


def rewind_position(session: Session, done_upto: int) -> None:
    """Move the indexer's position back to ``done_upto`` if it is past it (changes are resent)."""
    session.execute(
        update(ConsumerPosition)
        .where(
            ConsumerPosition.consumer_group == INDEXER_GROUP,
            ConsumerPosition.topic == OUTBOX_TOPIC,
            ConsumerPosition.partition == OUTBOX_PARTITION,
        )
        .values(next_offset=func.least(ConsumerPosition.next_offset, done_upto + 1), updated_at=func.now())
    )


def backlog(session: Session | Connection) -> Backlog:
    """Changes not yet indexed and the append time of the oldest (the index's freshness)."""
    position = get_position(session)
    pending, oldest = session.execute(
        select(func.count(), func.min(RankingChange.created_at)).where(RankingChange.change_id > position)
    ).one()
    return Backlog(int(pending or 0), oldest)


def prune_changes(session: Session, older_than: dt.timedelta) -> int:
    """Drop indexed outbox rows older than ``older_than`` (the reindex only needs recent ones)."""
    position = get_position(session)
    result = session.execute(
        delete(RankingChange).where(
            and_(
                RankingChange.change_id <= position,
                RankingChange.created_at < func.now() - older_than,
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- reindex jobs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobView:
    job_id: str
    state: str
    index_name: str | None
    total: int
    done: int
    caught_up: int
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


def create_job(session: Session, job_id: str, state: str = "running") -> None:
    session.add(ReindexJob(job_id=job_id, state=state))
    session.flush()


def update_job(session: Session, job_id: str, **values: object) -> None:
    if values.get("state") in ("done", "failed"):
        values.setdefault("finished_at", func.now())
    session.execute(update(ReindexJob).where(ReindexJob.job_id == job_id).values(**values))


def fail_abandoned_jobs(session: Session, reason: str) -> int:
    """Mark jobs left 'running' by a crashed process as failed (call while holding the reindex lock)."""
    result = session.execute(
        update(ReindexJob)
        .where(ReindexJob.state.in_(("pending", "running")))
        .values(state="failed", error=reason, finished_at=func.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def get_job(session: Session, job_id: str) -> JobView | None:
    row = session.get(ReindexJob, job_id)
    if row is None:
        return None
    return JobView(
        row.job_id,
        row.state,
        row.index_name,
        row.total,
        row.done,
        row.caught_up,
        row.error,
        row.started_at,
        row.finished_at,
    )
