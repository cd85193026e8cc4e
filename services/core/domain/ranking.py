"""Federation ranking list per weight category (SPEC §4). Pure: no I/O, no clock.

The ranking date is always passed in (the caller decides what "today, UTC" is).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from services.core.domain.standings import StandingRow


class Tier(StrEnum):
    WORLD = "world"
    CONTINENTAL = "continental"
    NATIONAL = "national"
    OPEN = "open"


TIER_FACTOR: Mapping[Tier, float] = MappingProxyType(
    {Tier.WORLD: 2.0, Tier.CONTINENTAL: 1.5, Tier.NATIONAL: 1.0, Tier.OPEN: 0.5}
)

# rank -> base points; the last entry applies to that rank and every rank after it (8th+).
PLACING_POINTS: Mapping[int, int] = MappingProxyType({1: 100, 2: 70, 3: 50, 4: 40, 5: 30, 6: 25, 7: 20, 8: 10})
_LAST_PLACING = max(PLACING_POINTS)

RANKING_WINDOW_DAYS = 365


def placing_points(rank: int, tier: Tier) -> float:
    """Points for finishing at ``rank`` in a tournament of ``tier``.

    Base points are integers and factors multiples of 0.5, so results are exact in float.
    """
    return _base_points(rank) * TIER_FACTOR[Tier(tier)]


def _base_points(rank: int) -> int:
    if rank < 1:
        raise ValueError(f"rank must be >= 1, got {rank}")
    return PLACING_POINTS[min(rank, _LAST_PLACING)]


@dataclass(frozen=True, slots=True)
class Award:
    tournament_id: str
    division_id: str
    category: str
    athlete_id: str
    rank: int
    points: float
    end_date: datetime.date


def awards_for_division(
    tournament_id: str,
    division_id: str,
    category: str,
    tier: Tier,
    end_date: datetime.date,
    standings: Sequence[StandingRow],
) -> list[Award]:
    """One award per standings row; athletes sharing a rank get that rank's points."""
    factor = TIER_FACTOR[Tier(tier)]  # once per division: ``Tier(...)`` per row was 5 % of a batch
    return [
        Award(
            tournament_id=tournament_id,
            division_id=division_id,
            category=category,
            athlete_id=row.athlete_id,
            rank=row.rank,
            points=_base_points(row.rank) * factor,
            end_date=end_date,
        )
        for row in standings
    ]


def counts_on(end_date: datetime.date, ranking_date: datetime.date) -> bool:
    """True iff a tournament that ended on ``end_date`` counts on ``ranking_date``
    (inclusive window of RANKING_WINDOW_DAYS days before it; future tournaments do not count)."""
    return ranking_date - datetime.timedelta(days=RANKING_WINDOW_DAYS) <= end_date <= ranking_date


@dataclass(frozen=True, slots=True)
class RankingEntry:
    category: str
    athlete_id: str
    rank: int
    points: float
    best_award: float
    awards: int


def _unique_awards(awards: Iterable[Award]) -> list[Award]:
    """Drop exact duplicates (replays); a different award for the same athlete in the same
    tournament division is a data error, not something to sum."""
    seen: dict[tuple[str, str, str], Award] = {}
    for award in awards:
        key = (award.tournament_id, award.division_id, award.athlete_id)
        prev = seen.setdefault(key, award)
        if prev != award:
            raise ValueError(f"conflicting awards for {key}: {prev} != {award}")
    return list(seen.values())


def ranking_list(awards: Iterable[Award], ranking_date: datetime.date) -> dict[str, list[RankingEntry]]:
    """Ranking per category from the awards that count on ``ranking_date``.

    Order: points desc, best single award desc, athlete_id asc. Equal (points, best award)
    share the rank (competition ranking). Athletes without a counted award are absent.
    """
    # category -> athlete -> (sum, best, count)
    totals: dict[str, dict[str, tuple[float, float, int]]] = {}
    for award in _unique_awards(awards):
        if not counts_on(award.end_date, ranking_date):
            continue
        per_cat = totals.setdefault(award.category, {})
        total, best, count = per_cat.get(award.athlete_id, (0.0, 0.0, 0))
        per_cat[award.athlete_id] = (total + award.points, max(best, award.points), count + 1)

    result: dict[str, list[RankingEntry]] = {}
    for category in sorted(totals):
        ordered = sorted(totals[category].items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
        entries: list[RankingEntry] = []
        for i, (athlete_id, (total, best, count)) in enumerate(ordered):
            tied = bool(entries) and (entries[-1].points, entries[-1].best_award) == (total, best)
            rank = entries[-1].rank if tied else i + 1
            entries.append(RankingEntry(category, athlete_id, rank, total, best, count))
        result[category] = entries
    return result


def ranking_for_category(awards: Iterable[Award], category: str, ranking_date: datetime.date) -> list[RankingEntry]:
    """ranking_list restricted to one category (empty when nothing counts)."""
    return ranking_list((a for a in awards if a.category == category), ranking_date).get(category, [])
