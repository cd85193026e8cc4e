"""Placing awards of divisions (SPEC §4), recorded by the projector in its batch transaction.

A finalized division (or a touched division of a finalized tournament: a late correction) awards
final points from its standings; a division of a live tournament awards provisional ones. The
awards are division-scoped rows: the projector's division lock already orders their writers, so
recording them takes no other lock. Categories whose awards changed get a re-rank request; the
ranking list itself is recomputed by the rankings stage (``services.rankings.rerank``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Mapping
from typing import NamedTuple

from sqlalchemy.orm import Session

from services.core.db import driver
from services.core.domain.ranking import Tier, awards_for_division
from services.core.domain.standings import StandingRow
from services.rankings.model import DivisionKey
from services.rankings.requests import request_reranks


def record_awards(session: Session, touched: Collection[DivisionKey], finalized: Collection[DivisionKey]) -> set[str]:
    """Write the awards of these divisions and ask for their categories' re-rank; returns the
    categories whose awards changed. A constant number of statements, however many divisions."""
    categories = write_awards(session, touched, finalized)
    request_reranks(session, categories)
    return categories


def write_awards(session: Session, touched: Collection[DivisionKey], finalized: Collection[DivisionKey]) -> set[str]:
    """Make the stored awards of ``touched`` and ``finalized`` divisions what their standings and
    tournament status say; returns every category whose awards changed (old and new category)."""
    divisions = set(touched) | set(finalized)
    if not divisions:
        return set()
    session.flush()
    info = _division_info(session, divisions)
    final = {k for k, (*_, status) in info.items() if k in finalized or status == "finalized"}
    live = {k for k, (*_, status) in info.items() if k not in final and status == "live"}
    if not final and not live:
        return set()
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
    changed = {k for k in wanted if wanted[k] != stored.get(k, {})}
    _write_awards(session, {k: wanted[k] for k in changed}, stored)
    return {award.category for k in changed for award in [*wanted[k].values(), *stored.get(k, {}).values()]} | {
        info[k][0] for k in changed
    }


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
