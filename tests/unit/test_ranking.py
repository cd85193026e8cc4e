"""Federation ranking list (SPEC §4). Expected figures are worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.domain.ranking import (
    PLACING_POINTS,
    RANKING_WINDOW_DAYS,
    TIER_FACTOR,
    Award,
    RankingEntry,
    Tier,
    awards_for_division,
    counts_on,
    placing_points,
    ranking_for_category,
    ranking_list,
)
from services.core.domain.standings import StandingRow

TODAY = date(2025, 3, 1)


def test_tables() -> None:
    assert dict(TIER_FACTOR) == {Tier.WORLD: 2.0, Tier.CONTINENTAL: 1.5, Tier.NATIONAL: 1.0, Tier.OPEN: 0.5}
    assert [PLACING_POINTS[r] for r in range(1, 9)] == [100, 70, 50, 40, 30, 25, 20, 10]
    assert RANKING_WINDOW_DAYS == 365


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        # ranks 1..9 and 40
        (Tier.WORLD, [200, 140, 100, 80, 60, 50, 40, 20, 20, 20]),
        (Tier.CONTINENTAL, [150, 105, 75, 60, 45, 37.5, 30, 15, 15, 15]),
        (Tier.NATIONAL, [100, 70, 50, 40, 30, 25, 20, 10, 10, 10]),
        (Tier.OPEN, [50, 35, 25, 20, 15, 12.5, 10, 5, 5, 5]),
    ],
)
def test_placing_points_with_tier_factor(tier: Tier, expected: list[float]) -> None:
    assert [placing_points(rank, tier) for rank in [*range(1, 10), 40]] == expected


def test_placing_points_accepts_tier_value_and_rejects_bad_rank() -> None:
    assert placing_points(2, Tier("continental")) == 105
    with pytest.raises(ValueError):
        placing_points(0, Tier.WORLD)
    with pytest.raises(ValueError):
        Tier("regional")


def _row(athlete: str, rank: int) -> StandingRow:
    return StandingRow(athlete, rank, 3, 0, 0, 0, 0, 0, 0, 0, False)


def test_awards_for_division_shared_ranks_get_the_same_points() -> None:
    rows = [_row("a", 1), _row("b", 2), _row("c", 2), _row("d", 4), _row("e", 5)]
    awards = awards_for_division("euro-25", "m-73kg", "m-73kg", Tier.CONTINENTAL, TODAY, rows)
    # continental x1.5: 1st 150, 2nd 105 (twice, shared), 4th 60, 5th 45
    assert [(a.athlete_id, a.rank, a.points) for a in awards] == [
        ("a", 1, 150),
        ("b", 2, 105),
        ("c", 2, 105),
        ("d", 4, 60),
        ("e", 5, 45),
    ]
    assert all(
        (a.tournament_id, a.division_id, a.category, a.end_date) == ("euro-25", "m-73kg", "m-73kg", TODAY)
        for a in awards
    )


def test_window_boundaries() -> None:
    # hand check of the calendar: 2024-03-01 .. 2025-03-01 is 365 days (Feb 29 2024 is before it)
    assert (TODAY - date(2024, 3, 1)).days == 365
    assert counts_on(date(2024, 3, 1), TODAY)  # exactly 365 days before: counts
    assert not counts_on(date(2024, 2, 29), TODAY)  # 366 days before: expired
    assert counts_on(TODAY, TODAY)  # ended today
    assert not counts_on(date(2025, 3, 2), TODAY)  # future end date


def aw(tournament: str, cat: str, athlete: str, rank: int, points: float, end: date) -> Award:
    return Award(tournament, cat, cat, athlete, rank, points, end)


AWARDS = [
    aw("worlds-24", "m-73kg", "cho", 1, 200.0, date(2024, 9, 1)),  # world 1st
    aw("euro-24", "m-73kg", "ali", 2, 105.0, date(2024, 10, 10)),  # continental 2nd
    aw("natl-25", "m-73kg", "ali", 5, 30.0, TODAY),  # national 5th, ended today
    aw("natl-25", "m-73kg", "bea", 1, 100.0, TODAY),  # national 1st
    aw("open-24", "m-73kg", "bea", 2, 35.0, date(2024, 3, 1)),  # open 2nd, exactly 365 days
    aw("open-24", "m-73kg", "kim", 2, 35.0, date(2024, 3, 1)),  # shared 2nd
    aw("natl-24", "m-73kg", "kim", 1, 100.0, date(2024, 12, 1)),
    aw("open-24", "m-73kg", "dan", 8, 5.0, date(2024, 3, 1)),  # open 8th
    aw("worlds-23", "m-73kg", "dan", 1, 200.0, date(2024, 2, 29)),  # 366 days: expired
    aw("worlds-25", "m-73kg", "eve", 1, 200.0, date(2025, 3, 2)),  # future: not counted
    aw("open-25", "w-57kg", "yan", 1, 50.0, date(2025, 1, 1)),
    aw("open-25", "w-57kg", "zed", 6, 12.5, date(2025, 1, 1)),
    aw("open-25", "w-57kg", "ali", 6, 12.5, date(2025, 1, 1)),
]


def test_ranking_list_by_hand() -> None:
    # m-73kg: cho 200 (best 200); ali 105+30=135 (best 105); bea 100+35=135 (best 100);
    # kim 35+100=135 (best 100); dan 5 (the 200 expired); eve absent (future only).
    # bea and kim are equal on points and best award -> shared rank 3, then by id; dan is 5th.
    # w-57kg: yan 50; ali and zed 12.5 each -> shared 2nd, ali first by id.
    assert ranking_list(AWARDS, TODAY) == {
        "m-73kg": [
            RankingEntry("m-73kg", "cho", 1, 200.0, 200.0, 1),
            RankingEntry("m-73kg", "ali", 2, 135.0, 105.0, 2),
            RankingEntry("m-73kg", "bea", 3, 135.0, 100.0, 2),
            RankingEntry("m-73kg", "kim", 3, 135.0, 100.0, 2),
            RankingEntry("m-73kg", "dan", 5, 5.0, 5.0, 1),
        ],
        "w-57kg": [
            RankingEntry("w-57kg", "yan", 1, 50.0, 50.0, 1),
            RankingEntry("w-57kg", "ali", 2, 12.5, 12.5, 1),
            RankingEntry("w-57kg", "zed", 2, 12.5, 12.5, 1),
        ],
    }


def test_expiry_moves_the_list() -> None:
    # one day later (2025-03-02) the open-24 awards (end 2024-03-01) are 366 days old and drop
    # out, and eve's worlds-25 (ends 2025-03-02) now counts:
    # cho 200 and eve 200 (both best 200) share 1st, ali 135 is 3rd, bea 100 and kim 100 share
    # 4th, dan has nothing left and is absent.
    later = ranking_for_category(AWARDS, "m-73kg", date(2025, 3, 2))
    assert [(e.athlete_id, e.rank, e.points, e.best_award, e.awards) for e in later] == [
        ("cho", 1, 200.0, 200.0, 1),
        ("eve", 1, 200.0, 200.0, 1),
        ("ali", 3, 135.0, 105.0, 2),
        ("bea", 4, 100.0, 100.0, 1),
        ("kim", 4, 100.0, 100.0, 1),
    ]


def test_ranking_for_category_and_empty() -> None:
    assert ranking_for_category(AWARDS, "w-57kg", TODAY) == ranking_list(AWARDS, TODAY)["w-57kg"]
    assert ranking_for_category(AWARDS, "m-100kg", TODAY) == []
    assert ranking_list([], TODAY) == {}
    # only expired awards: the category does not appear at all
    assert ranking_list([AWARDS[8]], TODAY) == {}


def test_duplicate_awards_count_once_and_conflicts_raise() -> None:
    assert ranking_list(AWARDS + AWARDS[:4], TODAY) == ranking_list(AWARDS, TODAY)
    conflicting = aw("worlds-24", "m-73kg", "cho", 2, 140.0, date(2024, 9, 1))
    with pytest.raises(ValueError, match="conflicting"):
        ranking_list([*AWARDS, conflicting], TODAY)


_awards = st.lists(
    st.builds(
        lambda t, c, a, rank, tier, days: Award(
            f"t{t}", c, c, a, rank, placing_points(rank, tier), date.fromordinal(TODAY.toordinal() - days)
        ),
        st.integers(0, 6),
        st.sampled_from(["m-73kg", "w-57kg"]),
        st.sampled_from("abcdef"),
        st.integers(1, 10),
        st.sampled_from(list(Tier)),
        st.integers(-5, 400),
    ),
    max_size=30,
    unique_by=lambda a: (a.tournament_id, a.division_id, a.athlete_id),
)


@given(_awards)
def test_ranking_list_properties(awards: list[Award]) -> None:
    lists = ranking_list(awards, TODAY)
    counted = [a for a in awards if counts_on(a.end_date, TODAY)]
    for category, entries in lists.items():
        mine = [a for a in counted if a.category == category]
        assert sum(e.points for e in entries) == sum(a.points for a in mine)  # exact: halves only
        assert {e.athlete_id for e in entries} == {a.athlete_id for a in mine}
        keys = [(-e.points, -e.best_award, e.athlete_id) for e in entries]
        assert keys == sorted(keys)
        for i, e in enumerate(entries):
            prev = entries[i - 1] if i else None
            if prev is not None and (prev.points, prev.best_award) == (e.points, e.best_award):
                assert e.rank == prev.rank
            else:
                assert e.rank == i + 1
    assert set(lists) == {a.category for a in counted}
