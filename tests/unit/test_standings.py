"""Division standings (SPEC §3).

The tables in tables/standings.yaml were worked out by hand from the bouts listed next to them;
the per-athlete arithmetic is in the comments there so a reviewer can re-check it without running
the code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from itertools import combinations, groupby
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.domain.results import (
    Bout,
    BoutResult,
    BoutVoid,
    Method,
    Revision,
    Score,
    Winner,
    effective_results,
)
from services.core.domain.ruleset import COMBAT_DEFAULT
from services.core.domain.standings import (
    StandingRow,
    compute_standings,
    rank_movements,
    standings_from_revisions,
)

R = Winner.RED

# (bout_id, red, blue, winner, method, red_score, blue_score)
BoutSpec = tuple[str, str, str, Winner, Method, int, int]
# (athlete, rank, bouts, wins, losses, draws, points, finishes, tp_for, tp_against, tie_unresolved)
RowSpec = tuple[str, int, int, int, int, int, int, int, int, int, bool]


def standings(specs: Sequence[BoutSpec], athletes: Sequence[str] = ()) -> list[StandingRow]:
    bouts = [Bout(bid, red, blue) for bid, red, blue, *_ in specs]
    results = {}
    for bid, _, _, winner, method, rs, bs in specs:
        r = BoutResult(bid, 1, winner, method, Score(rs, bs))
        r.validate()
        results[bid] = r
    return compute_standings(athletes, bouts, results, COMBAT_DEFAULT)


def table(rows: list[StandingRow]) -> list[RowSpec]:
    return [astuple(r) for r in rows]


# -- hand-worked tables (tables/standings.yaml) -----------------------------------------

TABLES = yaml.safe_load((Path(__file__).with_name("tables") / "standings.yaml").read_text())


def _bout_spec(raw: list) -> BoutSpec:
    bid, red, blue, winner, method, rs, bs = raw
    return (bid, red, blue, Winner(winner), Method(method), rs, bs)


@pytest.mark.parametrize("case", list(TABLES.values()), ids=list(TABLES))
def test_hand_worked_table(case: dict) -> None:
    rows = standings([_bout_spec(b) for b in case["bouts"]], athletes=case.get("athletes", ()))
    assert table(rows) == [tuple(r) for r in case["expected"]]


def test_every_athlete_gets_a_row_and_unresulted_bouts_do_not_count() -> None:
    rows = compute_standings(["x"], [Bout("p", "z", "y")], {}, COMBAT_DEFAULT)
    assert table(rows) == [
        ("x", 1, 0, 0, 0, 0, 0, 0, 0, 0, True),
        ("y", 1, 0, 0, 0, 0, 0, 0, 0, 0, True),
        ("z", 1, 0, 0, 0, 0, 0, 0, 0, 0, True),
    ]
    assert compute_standings([], [], {}, COMBAT_DEFAULT) == []
    # results for bouts that are not in this division are ignored
    other = {"q": BoutResult("q", 1, R, Method.KO, Score(0, 0))}
    assert compute_standings(["x"], [], other, COMBAT_DEFAULT) == table_rows([("x", 1)])


def table_rows(ids: list[tuple[str, int]]) -> list[StandingRow]:
    return [StandingRow(a, rank, 0, 0, 0, 0, 0, 0, 0, 0, False) for a, rank in ids]


def test_inconsistent_bouts_are_rejected() -> None:
    with pytest.raises(ValueError, match="themselves"):
        compute_standings([], [Bout("p", "a", "a")], {}, COMBAT_DEFAULT)
    with pytest.raises(ValueError, match="twice"):
        compute_standings([], [Bout("p", "a", "b"), Bout("p", "a", "c")], {}, COMBAT_DEFAULT)
    # the same bout listed twice is the same bout
    once = standings([("p", "a", "b", R, Method.KO, 0, 0)])
    twice = compute_standings(
        [], [Bout("p", "a", "b")] * 2, {"p": BoutResult("p", 1, R, Method.KO, Score(0, 0))}, COMBAT_DEFAULT
    )
    assert once == twice


def test_rank_movements() -> None:
    def row(a: str, rank: int) -> StandingRow:
        return StandingRow(a, rank, 0, 0, 0, 0, 0, 0, 0, 0, False)

    previous = [row("a", 1), row("b", 2), row("c", 3), row("gone", 4)]
    current = [row("b", 1), row("a", 2), row("c", 3), row("new", 4)]
    assert rank_movements(previous, current) == {"b": 1, "a": -1, "c": 0, "new": 0}
    assert rank_movements([], current) == {"b": 0, "a": 0, "c": 0, "new": 0}


# -- properties on random round robins ---------------------------------------------------

_WINNERS = {Method.DRAW: Winner.DRAW, Method.NO_CONTEST: Winner.NONE}


@st.composite
def result_for(draw: st.DrawFn, bout_id: str, revision: int) -> BoutResult:
    method = draw(st.sampled_from(list(Method)))
    winner = _WINNERS.get(method) or draw(st.sampled_from([Winner.RED, Winner.BLUE]))
    # small scores so ties on technical points are common
    return BoutResult(bout_id, revision, winner, method, Score(draw(st.integers(0, 3)), draw(st.integers(0, 3))))


@st.composite
def round_robin(draw: st.DrawFn) -> tuple[list[str], list[Bout], list[Revision]]:
    """3-6 athletes, one bout per pair (random colours), 0-3 revisions per bout (results or voids)."""
    athletes = draw(st.lists(st.sampled_from("abcdefgh"), min_size=3, max_size=6, unique=True))
    bouts: list[Bout] = []
    revisions: list[Revision] = []
    for i, (x, y) in enumerate(combinations(athletes, 2)):
        red, blue = (x, y) if draw(st.booleans()) else (y, x)
        bout = Bout(f"bout-{i}", red, blue)
        bouts.append(bout)
        for rev in draw(st.lists(st.integers(1, 5), unique=True, max_size=3)):
            if draw(st.integers(0, 4)) == 0:
                revisions.append(BoutVoid(bout.bout_id, rev))
            else:
                revisions.append(draw(result_for(bout.bout_id, rev)))
    return athletes, bouts, revisions


def _top_revision(revisions: list[Revision], bout_id: str) -> int:
    return max((r.revision for r in revisions if r.bout_id == bout_id), default=0)


@given(round_robin(), st.randoms(use_true_random=False), st.data())
def test_invariant_under_permutation_and_duplication(rr, rnd, data) -> None:
    athletes, bouts, revs = rr
    replayed = list(revs)
    if revs:
        replayed += data.draw(st.lists(st.sampled_from(revs), max_size=len(revs)))
    rnd.shuffle(replayed)
    expected = standings_from_revisions(athletes, bouts, revs, COMBAT_DEFAULT)
    assert standings_from_revisions(athletes, bouts, replayed, COMBAT_DEFAULT) == expected
    # athlete order and bout order do not matter either
    assert standings_from_revisions(athletes[::-1], bouts[::-1], replayed, COMBAT_DEFAULT) == expected


@given(round_robin(), st.randoms(use_true_random=False), st.data())
def test_later_revision_replaces_earlier_whatever_the_arrival_order(rr, rnd, data) -> None:
    athletes, bouts, revs = rr
    bout = data.draw(st.sampled_from(bouts))
    newer = data.draw(result_for(bout.bout_id, _top_revision(revs, bout.bout_id) + data.draw(st.integers(1, 3))))
    arrivals = [*revs, newer]
    rnd.shuffle(arrivals)
    expected = compute_standings(athletes, bouts, {**effective_results(revs), bout.bout_id: newer}, COMBAT_DEFAULT)
    assert standings_from_revisions(athletes, bouts, arrivals, COMBAT_DEFAULT) == expected


@given(round_robin(), st.randoms(use_true_random=False), st.data())
def test_void_removes_bout_and_higher_result_reinstates_it(rr, rnd, data) -> None:
    athletes, bouts, revs = rr
    bout = data.draw(st.sampled_from(bouts))
    top = _top_revision(revs, bout.bout_id)
    void = BoutVoid(bout.bout_id, top + 1)
    arrivals = [*revs, void]
    rnd.shuffle(arrivals)
    without = [b for b in bouts if b != bout]
    assert standings_from_revisions(athletes, bouts, arrivals, COMBAT_DEFAULT) == compute_standings(
        athletes, without, effective_results(revs), COMBAT_DEFAULT
    )
    reinstated = data.draw(result_for(bout.bout_id, top + 2))
    arrivals.insert(data.draw(st.integers(0, len(arrivals))), reinstated)
    assert standings_from_revisions(athletes, bouts, arrivals, COMBAT_DEFAULT) == compute_standings(
        athletes, bouts, {**effective_results(revs), bout.bout_id: reinstated}, COMBAT_DEFAULT
    )


def _table_of(rr: tuple[list[str], list[Bout], list[Revision]]) -> tuple[list[StandingRow], dict[str, BoutResult]]:
    """The round robin's table and the effective results it was computed from."""
    athletes, bouts, revs = rr
    return standings_from_revisions(athletes, bouts, revs, COMBAT_DEFAULT), effective_results(revs)


@settings(max_examples=200)
@given(round_robin())
def test_table_invariants(rr) -> None:
    athletes = rr[0]
    rows, effective = _table_of(rr)
    played = [r for r in effective.values() if r.method is not Method.NO_CONTEST]

    assert sorted(r.athlete_id for r in rows) == sorted(athletes)
    assert sum(r.wins for r in rows) == sum(r.losses for r in rows)
    assert sum(r.bouts for r in rows) == 2 * len(played)
    assert sum(r.draws for r in rows) == 2 * sum(r.winner is Winner.DRAW for r in played)
    assert sum(r.tp_for for r in rows) == sum(r.tp_against for r in rows)
    assert sum(r.tp_for for r in rows) == sum(r.score.red + r.score.blue for r in played)
    for r in rows:
        assert r.bouts == r.wins + r.losses + r.draws

    for i, r in enumerate(rows):
        assert r.rank <= i + 1
        if i == 0:
            assert r.rank == 1
        else:
            assert r.rank >= rows[i - 1].rank
            # competition ranking: either shares the previous rank or takes its position
            assert r.rank in (rows[i - 1].rank, i + 1)


def _h2h(bouts: list[Bout], effective: dict[str, BoutResult], a: str, b: str) -> int:
    """Counted wins of a over b minus wins of b over a (independent of the implementation)."""
    net = 0
    for bout in bouts:
        r = effective.get(bout.bout_id)
        if r is None or {bout.red, bout.blue} != {a, b} or r.winner not in (Winner.RED, Winner.BLUE):
            continue
        winner = bout.red if r.winner is Winner.RED else bout.blue
        net += 1 if winner == a else -1
    return net


@settings(max_examples=200)
@given(round_robin())
def test_order_follows_the_spec_steps(rr) -> None:
    bouts = rr[1]
    rows, effective = _table_of(rr)
    by_rank = {rank: list(g) for rank, g in groupby(rows, key=lambda r: r.rank)}
    for group in by_rank.values():
        assert all(r.tie_unresolved for r in group) == (len(group) > 1)
        assert len({(r.wins, r.points, r.finishes, r.tp_for, r.tp_against) for r in group}) == 1
        assert [r.athlete_id for r in group] == sorted(r.athlete_id for r in group)

    for _, g in groupby(rows, key=lambda r: (r.wins, r.points)):
        tied = list(g)
        if len(tied) == 2 and (net := _h2h(bouts, effective, tied[0].athlete_id, tied[1].athlete_id)):
            assert net > 0
            assert [r.rank for r in tied] == [tied[0].rank, tied[0].rank + 1]
            assert not any(r.tie_unresolved for r in tied)
            continue
        keys = [(-r.finishes, -r.tp_for, r.tp_against, r.athlete_id) for r in tied]
        assert keys == sorted(keys)

    keys12 = [(-r.wins, -r.points) for r in rows]
    assert keys12 == sorted(keys12)
