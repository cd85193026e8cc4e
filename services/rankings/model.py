"""Value types of the rankings package (no I/O)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

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


class FeedPosition(NamedTuple):
    """A place in the change feed: every row ordered at or before ``(txid, change_id)``."""

    txid: int
    change_id: int


START = FeedPosition(-1, 0)


class Change(NamedTuple):
    change_id: int
    category: str
    athlete_id: str
    created_at: dt.datetime
    txid: int = 0

    @property
    def position(self) -> FeedPosition:
        return FeedPosition(self.txid, self.change_id)


class Backlog(NamedTuple):
    """Work not yet in the index: feed rows after the position plus categories waiting for a re-rank,
    and when the oldest of them was written."""

    pending: int
    oldest_at: dt.datetime | None

    def age_s(self, now: dt.datetime | None = None) -> float:
        if self.oldest_at is None:
            return 0.0
        now = now or dt.datetime.now(dt.UTC)
        return max(0.0, (now - self.oldest_at).total_seconds())
