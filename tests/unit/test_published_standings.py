"""Published standings: ``previous_rank`` (the movement arrow) and the change that brings stored rows
up to date, the one rule the projector, a registration refresh and a replay write with."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.core.domain.standings import (
    StandingRow,
    StandingsChange,
    StoredStanding,
    previous_rank,
    standings_change,
)


def row(athlete: str, rank: int, wins: int = 0) -> StandingRow:
    return StandingRow(athlete, rank, wins, wins, 0, 0, 3 * wins, 0, 0, 0, False)


def test_previous_rank_is_the_old_rank_when_the_rank_moves() -> None:
    assert previous_rank(new_rank=1, old_rank=3, old_previous=None) == 3
    assert previous_rank(new_rank=4, old_rank=2, old_previous=1) == 2


def test_previous_rank_is_kept_while_the_rank_stays() -> None:
    assert previous_rank(new_rank=2, old_rank=2, old_previous=5) == 5
    assert previous_rank(new_rank=2, old_rank=2, old_previous=None) is None


def test_a_new_row_has_no_previous_rank() -> None:
    assert previous_rank(new_rank=1, old_rank=None, old_previous=None) is None


def test_change_writes_moved_and_new_rows_and_drops_the_gone() -> None:
    published = {
        "a": StoredStanding(row("a", 1, 2), None),
        "b": StoredStanding(row("b", 2, 1), 4),
        "x": StoredStanding(row("x", 3), None),
    }
    change = standings_change([row("b", 1, 3), row("a", 2, 2), row("c", 3)], published)
    assert change.upserts == (
        StoredStanding(row("b", 1, 3), 2),
        StoredStanding(row("a", 2, 2), 1),
        StoredStanding(row("c", 3), None),
    )
    assert change.deletes == ("x",)
    assert change.athletes == ("a", "b", "c", "x") and len(change) == 4


def test_figures_changing_without_a_move_keep_the_previous_rank() -> None:
    published = {"a": StoredStanding(row("a", 1, 1), 3)}
    assert standings_change([row("a", 1, 2)], published).upserts == (StoredStanding(row("a", 1, 2), 3),)


def test_up_to_date_rows_are_no_change() -> None:
    published = {"a": StoredStanding(row("a", 1, 2), 2), "b": StoredStanding(row("b", 2), None)}
    change = standings_change([row("a", 1, 2), row("b", 2)], published)
    assert change == StandingsChange() and not change and change.athletes == ()


tables = st.lists(st.integers(1, 6), min_size=0, max_size=6).map(
    lambda ranks: [row(f"a{i}", rank, wins=7 - rank) for i, rank in enumerate(ranks)]
)


@given(tables, tables, st.lists(st.none() | st.integers(1, 6), min_size=6, max_size=6))
def test_applying_the_change_makes_the_published_rows_equal_and_a_second_change_empty(
    before: list[StandingRow], after: list[StandingRow], previous: list[int | None]
) -> None:
    published = {r.athlete_id: StoredStanding(r, p) for r, p in zip(before, previous, strict=False)}
    change = standings_change(after, published)
    written = {**published, **{s.row.athlete_id: s for s in change.upserts}}
    for athlete in change.deletes:
        del written[athlete]
    assert {a: s.row for a, s in written.items()} == {r.athlete_id: r for r in after}
    for s in change.upserts:
        old = published.get(s.row.athlete_id)
        assert s.previous_rank == (
            None if old is None else old.row.rank if old.row.rank != s.row.rank else old.previous_rank
        )
    assert not standings_change(after, written)
