"""pools_then_elimination through the division projection (SPEC §7, docs/brackets.md's worked
example): every position waits until every pool bout has a result, then the bracket is drawn from
the pools' standings and the athletes who stayed in their pool are placed after it."""

from __future__ import annotations

from itertools import combinations

from services.core.domain import bracket_division as bd
from services.core.domain.brackets import FoughtResult
from services.core.domain.results import Bout, BoutResult, Method, Score, Winner
from services.core.domain.ruleset import RULESETS

RULES = RULESETS["combat-default"]
POOLS = {"A": ["A1", "A2", "A3", "A4"], "B": ["B1", "B2", "B3", "B4"]}
SPEC = bd.division_bracket(
    "d",
    {
        "format": "pools_then_elimination",
        "repechage": "none",
        "third_place": "bronze_bout",
        "advance": 2,
        "seeds": None,
        "draw": None,
        "pools": [{"pool_id": p, "athletes": a} for p, a in POOLS.items()],
    },
)
# Every pair of a pool once; the better-numbered athlete wins (pool A by ko, pool B on points 3:0).
POOL_BOUTS = [Bout(f"p{p}-{i}{j}", a[i], a[j]) for p, a in POOLS.items() for i, j in combinations(range(4), 2)]
POOL_RESULTS = [
    BoutResult(b.bout_id, 1, Winner.RED, Method.KO if b.red[0] == "A" else Method.POINTS, Score(3, 0))
    for b in POOL_BOUTS
]


def won(bout: str, red: str, blue: str, winner: Winner = Winner.RED) -> FoughtResult:
    return FoughtResult(BoutResult(bout, 1, winner, Method.KO, Score(0, 0)), red, blue)


def test_every_position_waits_for_the_draw_until_every_pool_bout_is_decided() -> None:
    done = bd.project(SPEC, POOL_BOUTS, POOL_RESULTS[:-1], RULES)
    assert not done.drawn
    assert {r.status for r in bd.bout_rows(done)} == {"waiting"}
    assert bd.rejected(done, won("d-r1-b1", "A1", "B2")) == (
        "slot_not_determined",
        "d-r1-b1: both slots wait for the draw from the pools (once every pool bout is decided)",
    )


def test_the_pools_draw_and_the_placings_after_the_bracket() -> None:
    bracket = [
        won("d-r1-b1", "A1", "B2", Winner.BLUE),
        won("d-r1-b2", "B1", "A2"),
        won("d-final", "B2", "B1", Winner.BLUE),
        won("d-bronze", "A1", "A2", Winner.BLUE),
    ]
    done = bd.project(SPEC, POOL_BOUTS, [*POOL_RESULTS, *bracket], RULES)
    assert done.drawn and done.bracket.draw == ("A1", "B2", "B1", "A2")
    rows = bd.division_rows(done, RULES)
    assert [(r.athlete_id, r.rank) for r in rows] == [
        ("B1", 1),
        ("B2", 2),
        ("A2", 3),
        ("A1", 4),
        ("A3", 5),
        ("B3", 6),
        ("A4", 7),
        ("B4", 7),
    ]
    b1 = next(r for r in rows if r.athlete_id == "B1")
    assert (b1.bouts, b1.wins, b1.losses) == (5, 5, 0)  # three pool bouts, the semifinal and the final
