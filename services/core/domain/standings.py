"""Round-robin division standings (SPEC §3). Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter
from typing import Any

from services.core.domain.results import Bout, BoutResult, Revision, Winner, effective_results
from services.core.domain.ruleset import Ruleset


@dataclass(frozen=True, slots=True)
class StandingRow:
    athlete_id: str
    rank: int
    bouts: int
    wins: int
    losses: int
    draws: int
    points: int
    finishes: int
    tp_for: int
    tp_against: int
    tie_unresolved: bool


# A row's figures in field order: a tally, a stored row and a row as shown carry them alike.
FIGURES = ("bouts", "wins", "losses", "draws", "points", "finishes", "tp_for", "tp_against")
figures: Callable[[Any], tuple[int, int, int, int, int, int, int, int]] = attrgetter(*FIGURES)


@dataclass(slots=True)
class _Tally:
    athlete_id: str
    bouts: int = 0
    wins: int = 0
    losses: int = 0
    draws: int = 0
    points: int = 0
    finishes: int = 0
    tp_for: int = 0
    tp_against: int = 0

    def primary(self) -> tuple[int, int]:
        """Steps 1-2: wins, classification points (higher is better)."""
        return (self.wins, self.points)

    def secondary(self) -> tuple[int, int, int]:
        """Steps 4-6 as a descending sort key: finishes, tp for, fewer tp against."""
        return (self.finishes, self.tp_for, -self.tp_against)


def _unique_bouts(bouts: Iterable[Bout]) -> list[Bout]:
    seen: dict[str, Bout] = {}
    for bout in bouts:
        if bout.red == bout.blue:
            raise ValueError(f"bout {bout.bout_id!r}: an athlete cannot face themselves")
        prev = seen.setdefault(bout.bout_id, bout)
        if prev != bout:
            raise ValueError(f"bout {bout.bout_id!r} is defined twice with different athletes")
    return list(seen.values())


def compute_standings(
    athlete_ids: Iterable[str],
    bouts: Iterable[Bout],
    results: Mapping[str, BoutResult],
    ruleset: Ruleset,
) -> list[StandingRow]:
    """Standings of one division from the result that counts for each bout.

    Every athlete in ``athlete_ids`` or in a bout gets a row. Bouts without a result, and
    results the ruleset does not count as played (no_contest), contribute nothing.
    Raises ValueError for inconsistent bout data (same bout_id twice with different
    athletes, or red == blue).
    """
    tallies: dict[str, _Tally] = {a: _Tally(a) for a in athlete_ids}
    # (winner, loser) -> number of counted wins, for head-to-head.
    h2h: dict[tuple[str, str], int] = {}
    for bout in _unique_bouts(bouts):
        red = tallies.setdefault(bout.red, _Tally(bout.red))
        blue = tallies.setdefault(bout.blue, _Tally(bout.blue))
        result = results.get(bout.bout_id)
        if result is not None and ruleset.is_played(result):
            _count(red, blue, result, ruleset, h2h)
    return _rank(tallies.values(), h2h)


def _count(red: _Tally, blue: _Tally, result: BoutResult, ruleset: Ruleset, h2h: dict[tuple[str, str], int]) -> None:
    """Add one played bout to both athletes' tallies (and its winner to head-to-head)."""
    red_pts, blue_pts = ruleset.classification_points(result)
    for tally, pts, tp_for, tp_against in (
        (red, red_pts, result.score.red, result.score.blue),
        (blue, blue_pts, result.score.blue, result.score.red),
    ):
        tally.bouts += 1
        tally.points += pts
        tally.tp_for += tp_for
        tally.tp_against += tp_against
    if result.winner is Winner.DRAW:
        red.draws += 1
        blue.draws += 1
        return
    winner, loser = (red, blue) if result.winner is Winner.RED else (blue, red)
    winner.wins += 1
    loser.losses += 1
    if ruleset.is_finish(result):
        winner.finishes += 1
    key = (winner.athlete_id, loser.athlete_id)
    h2h[key] = h2h.get(key, 0) + 1


def _rank(tallies: Iterable[_Tally], h2h: Mapping[tuple[str, str], int]) -> list[StandingRow]:
    """Order and rank the tallies by SPEC §3's steps 1-7."""
    ordered = sorted(tallies, key=lambda t: (-t.wins, -t.points, t.athlete_id))
    rows: list[StandingRow] = []
    for _, group_iter in groupby(ordered, key=_Tally.primary):
        group = list(group_iter)
        if len(group) == 2:
            a, b = group
            a_over_b = h2h.get((a.athlete_id, b.athlete_id), 0)
            b_over_a = h2h.get((b.athlete_id, a.athlete_id), 0)
            if a_over_b != b_over_a:
                first, second = (a, b) if a_over_b > b_over_a else (b, a)
                rows.append(_row(first, len(rows) + 1, tie_unresolved=False))
                rows.append(_row(second, len(rows) + 1, tie_unresolved=False))
                continue
        group.sort(key=lambda t: (_neg(t.secondary()), t.athlete_id))
        for _, tied_iter in groupby(group, key=_Tally.secondary):
            tied = list(tied_iter)
            rank = len(rows) + 1
            rows.extend(_row(t, rank, tie_unresolved=len(tied) > 1) for t in tied)
    return rows


def _neg(key: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(-k for k in key)


def _row(t: _Tally, rank: int, *, tie_unresolved: bool) -> StandingRow:
    return StandingRow(t.athlete_id, rank, *figures(t), tie_unresolved)


def standings_from_revisions(
    athlete_ids: Iterable[str],
    bouts: Iterable[Bout],
    revisions: Iterable[Revision],
    ruleset: Ruleset,
) -> list[StandingRow]:
    """Standings from the raw revision log (each bout's highest revision counts)."""
    return compute_standings(athlete_ids, bouts, effective_results(revisions), ruleset)


def rank_movements(previous: Sequence[StandingRow], current: Sequence[StandingRow]) -> dict[str, int]:
    """athlete_id -> previous rank - current rank (positive: moved up; new athletes: 0)."""
    before = {row.athlete_id: row.rank for row in previous}
    return {row.athlete_id: before.get(row.athlete_id, row.rank) - row.rank for row in current}


@dataclass(frozen=True, slots=True)
class StoredStanding:
    """A published standings row and the rank it showed before the change that last moved it."""

    row: StandingRow
    previous_rank: int | None


def previous_rank(*, new_rank: int, old_rank: int | None, old_previous: int | None) -> int | None:
    """The ``previous_rank`` a row keeps for its movement arrow: the old rank when the rank changes,
    the kept previous rank when it does not, none for an athlete without a published row."""
    if old_rank is None:
        return None
    return old_rank if old_rank != new_rank else old_previous


@dataclass(frozen=True, slots=True)
class StandingsChange:
    """What makes a division's published rows equal its computed ones: rows to write, athletes to drop."""

    upserts: tuple[StoredStanding, ...] = ()
    deletes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.upserts) + len(self.deletes)

    @property
    def athletes(self) -> tuple[str, ...]:
        """The athletes whose published row differs from the computed one (or is missing, or extra)."""
        return tuple(sorted([s.row.athlete_id for s in self.upserts] + list(self.deletes)))


def standings_change(rows: Sequence[StandingRow], published: Mapping[str, StoredStanding]) -> StandingsChange:
    """The rows of ``rows`` that differ from ``published`` (each with its previous rank) and the
    published athletes no longer in ``rows``; empty when the division's rows are up to date."""
    upserts: list[StoredStanding] = []
    for row in rows:
        old = published.get(row.athlete_id)
        if old is not None and old.row == row:
            continue
        previous = previous_rank(
            new_rank=row.rank,
            old_rank=None if old is None else old.row.rank,
            old_previous=None if old is None else old.previous_rank,
        )
        upserts.append(StoredStanding(row, previous))
    computed = {row.athlete_id for row in rows}
    return StandingsChange(tuple(upserts), tuple(sorted(a for a in published if a not in computed)))
