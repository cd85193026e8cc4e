"""Bracket formats, the draw and the bout ids (SPEC §7); expected values written by hand."""

from __future__ import annotations

import pytest

from services.core.domain.brackets import (
    BracketFormat,
    FinalistVictim,
    FormatKind,
    Half,
    InvalidBracket,
    LoserOf,
    Phase,
    Repechage,
    ThirdPlace,
    WinnerOf,
    build_bracket,
    draw_from_pools,
    draw_from_seeds,
    format_from_dict,
    seeding_order,
    validate_draw,
)


def test_standard_seeding_positions() -> None:
    assert seeding_order(2) == (1, 2)
    assert seeding_order(4) == (1, 4, 2, 3)
    assert seeding_order(8) == (1, 8, 4, 5, 2, 7, 3, 6)
    assert seeding_order(16) == (1, 16, 8, 9, 4, 13, 5, 12, 2, 15, 7, 10, 3, 14, 6, 11)


def test_seeds_get_byes_from_the_top() -> None:
    # 3 in a 4-draw: seed 4 is the bye, beside seed 1
    assert draw_from_seeds(["a", "b", "c"]) == ("a", None, "b", "c")
    # 2 athletes: a final
    assert draw_from_seeds(["a", "b"]) == ("a", "b")
    # 9 in a 16-draw: seeds 10-16 are byes, beside seeds 1-7; only 8 v 9 is fought in round 1
    assert draw_from_seeds(list("ABCDEFGHI")) == (
        "A", None, "H", "I", "D", None, "E", None, "B", None, "G", None, "C", None, "F", None,
    )  # fmt: skip


def test_seed_problems_are_listed_at_once() -> None:
    with pytest.raises(InvalidBracket) as err:
        draw_from_seeds(["a", "", "a"])
    assert err.value.problems == (
        "seed 2: athlete id must be a non-empty string",
        "athlete 'a' is at seeds 1 and 3",
        "a bracket needs at least two athletes (got 1)",
    )


def test_draw_problems_are_listed_at_once() -> None:
    with pytest.raises(InvalidBracket) as err:
        validate_draw(["a", "b", None, None, "b", "c"])
    assert err.value.problems == (
        "the draw has 6 positions; it must be a power of two >= 2",
        "athlete 'b' is at positions 2 and 5",
        "positions 3 and 4 are both byes (a bout of two byes)",
    )
    with pytest.raises(InvalidBracket) as err:
        validate_draw(["a", None])
    assert err.value.problems == ("a bracket needs at least two athletes (got 1)",)
    assert validate_draw(["a", None, "b", "c"]) == ("a", None, "b", "c")


def test_build_bracket_lists_division_and_draw_problems_together() -> None:
    with pytest.raises(InvalidBracket) as err:
        build_bracket(" ", BracketFormat(), ["a"])
    assert err.value.problems == (
        "division_id must be a non-empty string",
        "the draw has 1 positions; it must be a power of two >= 2",
        "a bracket needs at least two athletes (got 1)",
    )


def test_format_from_dict() -> None:
    assert format_from_dict({"format": "elimination", "repechage": "judo"}) == BracketFormat(
        FormatKind.ELIMINATION, Repechage.JUDO
    )
    assert format_from_dict({"format": "elimination", "repechage": "none", "third_place": "shared"}) == BracketFormat(
        third_place=ThirdPlace.SHARED
    )
    assert format_from_dict(
        {"format": "pools_then_elimination", "repechage": "wrestling", "advance": 3}
    ) == BracketFormat(FormatKind.POOLS_THEN_ELIMINATION, Repechage.WRESTLING, advance=3)
    assert format_from_dict({"format": "pools_then_elimination", "repechage": "none"}).advance == 2


def test_format_problems_are_listed_at_once() -> None:
    with pytest.raises(InvalidBracket) as err:
        format_from_dict({"format": "elimination", "repechage": "judo", "third_place": "shared", "advance": 0, "x": 1})
    assert err.value.problems == (
        "unknown keys ['x']",
        "third_place applies only to repechage none (judo and wrestling have two bronze bouts)",
        "advance applies only to format pools_then_elimination",
        "advance must be an integer >= 1 (got 0)",
    )
    with pytest.raises(InvalidBracket) as err:
        format_from_dict({"format": "knockout", "third_place": "tie"})
    assert err.value.problems == (
        "format must be one of elimination, pools_then_elimination (got 'knockout')",
        "repechage is required (none, judo or wrestling)",
        "third_place must be one of bronze_bout, shared (got 'tie')",
    )


def _ids(fmt: BracketFormat, entrants: int) -> list[str]:
    bracket = build_bracket("m-73kg", fmt, draw_from_seeds([f"a{i}" for i in range(entrants)]))
    return [p.bout_id.removeprefix("m-73kg-") for p in bracket.positions]


def test_bout_ids() -> None:
    judo = build_bracket("m-73kg", BracketFormat(repechage=Repechage.JUDO), [f"a{i}" for i in range(8)])
    assert (judo.final_id, judo.positions[0].bout_id) == ("m-73kg-final", "m-73kg-r1-b1")
    assert [p.bout_id for p in judo.positions[-4:]] == [
        "m-73kg-rep-top-1",
        "m-73kg-rep-bottom-1",
        "m-73kg-bronze-top",
        "m-73kg-bronze-bottom",
    ]
    assert _ids(BracketFormat(third_place=ThirdPlace.SHARED), 2) == ["final"]
    assert _ids(BracketFormat(third_place=ThirdPlace.BRONZE_BOUT), 3) == ["r1-b1", "r1-b2", "final", "bronze"]
    round_1 = [f"r1-b{i}" for i in range(1, 9)]
    main_16 = [*round_1, "r2-b1", "r2-b2", "r2-b3", "r2-b4", "r3-b1", "r3-b2", "final"]
    two_bronze = ["bronze-top", "bronze-bottom"]
    assert _ids(BracketFormat(repechage=Repechage.JUDO), 16) == [*main_16, "rep-top-1", "rep-bottom-1", *two_bronze]
    # wrestling 8: one victim per half goes straight to a bronze bout, no repechage bout
    assert _ids(BracketFormat(repechage=Repechage.WRESTLING), 8)[-3:] == ["final", *two_bronze]
    # a bye is still a position with its id (it has no bout): 9 athletes, 16 positions in round 1
    assert _ids(BracketFormat(repechage=Repechage.JUDO), 9) == _ids(BracketFormat(repechage=Repechage.JUDO), 16)


def test_wrestling_32_ladder_feeds() -> None:
    bracket = build_bracket("d", BracketFormat(repechage=Repechage.WRESTLING), [f"a{i}" for i in range(32)])
    rep = {p.bout_id: (p.red, p.blue) for p in bracket.positions if p.phase in (Phase.REPECHAGE, Phase.BRONZE)}
    assert rep == {
        "d-rep-top-1": (FinalistVictim(Half.TOP, 1), FinalistVictim(Half.TOP, 2)),
        "d-rep-top-2": (WinnerOf("d-rep-top-1"), FinalistVictim(Half.TOP, 3)),
        "d-rep-bottom-1": (FinalistVictim(Half.BOTTOM, 1), FinalistVictim(Half.BOTTOM, 2)),
        "d-rep-bottom-2": (WinnerOf("d-rep-bottom-1"), FinalistVictim(Half.BOTTOM, 3)),
        "d-bronze-top": (WinnerOf("d-rep-top-2"), LoserOf("d-r4-b2")),
        "d-bronze-bottom": (WinnerOf("d-rep-bottom-2"), LoserOf("d-r4-b1")),
    }


def test_pool_problems_are_listed_at_once() -> None:
    with pytest.raises(InvalidBracket) as err:
        draw_from_pools([["a", "b"], ["b"]], 0)
    assert err.value.problems == (
        "advance must be >= 1 (got 0)",
        "athlete 'b' is in pools 1 and 2",
        "the pools send fewer than two athletes to the bracket",
    )


def test_pools_keep_same_pool_athletes_in_different_quarters_when_the_plain_seating_does_not() -> None:
    # 5 pools of 3, all advance: 15 in a 16-draw. Seeding each seed to the pool that meets it
    # latest puts two athletes of one pool in a quarter; a seating without that exists (each pool
    # misses one quarter; the quarter with the bye is missed by two pools) and is the one drawn.
    pools = [[f"p{p}-{k}" for k in range(1, 4)] for p in range(1, 6)]
    drawn = draw_from_pools(pools, 3)
    assert drawn[0] == "p1-1" and drawn[1] is None  # seed 1 is pool 1's winner, beside the bye
    assert [drawn[8]] == ["p2-1"]  # seed 2, top of the bottom half
    for quarter in range(4):
        pools_in = [a.split("-")[0] for a in drawn[quarter * 4 : quarter * 4 + 4] if a is not None]
        assert len(pools_in) == len(set(pools_in)), drawn
    assert sorted(a for a in drawn if a) == sorted(a for pool in pools for a in pool)
