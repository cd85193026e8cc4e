"""The hand-worked tables catch wrong rules: each mutant below replaces one rule of the bracket
domain (through monkeypatch) and the tables must fail under it, in the cases named with it."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from services.core.domain.brackets import draw, layout, places, repechage, state
from services.core.domain.brackets.draw import bracket_size, seeding_order
from services.core.domain.brackets.fought import FoughtResult
from services.core.domain.results import Winner
from tests.unit.bracket_tables import CASES
from tests.unit.bracket_tables.table import check_case


def byes_to_bottom_seeds(entrants: int) -> tuple[int | None, ...]:
    """Byes beside the bottom seeds: seed s sits where seed s + byes belongs, byes at seeds 1..byes."""
    byes = bracket_size(entrants) - entrants
    return tuple(None if seed <= byes else seed - byes for seed in seeding_order(bracket_size(entrants)))


def quarterfinal_losers_five(fmt: Any, rounds: int, round_: int) -> int:
    """Quarterfinal losers 5 even with repechage."""
    place = places.main_loser_place(fmt, rounds, round_)
    return 5 if place == places.REPECHAGE_LOSER_PLACE else place


def draw_decides_winner(fought: FoughtResult) -> str | None:
    """A draw sends red on."""
    return fought.blue if fought.result.winner is Winner.BLUE else fought.red


def draw_decides_loser(fought: FoughtResult) -> str | None:
    return fought.red if fought.result.winner is Winner.BLUE else fought.blue


# name -> ((module, attribute, replacement), ...), cases that must catch it
MUTANTS: dict[str, tuple[tuple[tuple[ModuleType, str, Any], ...], set[str]]] = {
    "byes to the bottom seeds": (
        ((draw, "seat_seeds", byes_to_bottom_seeds),),
        {"judo-5", "wrestling-6", "none-bronze-11", "wrestling-13"},
    ),
    "repechage winner meets the same half's semifinal loser": (
        ((repechage, "other_half", lambda half: half),),
        {"judo-8", "judo-16", "judo-5", "pools-16", "wrestling-8", "wrestling-16"},
    ),
    "quarterfinal losers 5 instead of 7 with repechage": (
        # judo's quarterfinal losers all reach the repechage, whose losers are the ones at 7
        ((layout, "main_loser_place", quarterfinal_losers_five), (repechage, "REPECHAGE_LOSER_PLACE", 5)),
        {"judo-8", "judo-16", "wrestling-8", "wrestling-16", "wrestling-13", "pools-16"},
    ),
    "wrestling ladder in reverse order": (
        ((repechage, "ladder_rounds", lambda rounds: list(range(rounds - 2, 0, -1))),),
        {"wrestling-16", "wrestling-13"},
    ),
    "a draw decides a bout": (
        ((state, "winner_of", draw_decides_winner), (state, "loser_of", draw_decides_loser)),
        {"none-bronze-8", "none-shared-16"},
    ),
    "two bronze losers 4 instead of a shared 5": (
        ((repechage, "bronze_places", lambda fmt: (3, 4)),),
        {"judo-8", "judo-16", "wrestling-8", "wrestling-16", "judo-5", "wrestling-6", "wrestling-13", "pools-16"},
    ),
    "a result counts for whoever stands in the slots": (
        ((state, "fought_between", lambda stored, red, blue: True),),
        {"none-bronze-8", "none-shared-8", "judo-8", "wrestling-8", "wrestling-16"},
    ),
}


def _fails(case: Any) -> bool:
    try:
        check_case(case)
    except AssertionError:
        return True
    return False


def test_every_table_passes_without_a_mutant() -> None:
    assert [c.name for c in CASES if _fails(c)] == []


@pytest.mark.parametrize("name", MUTANTS)
def test_tables_catch_mutant(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    patches, must_catch = MUTANTS[name]
    for module, attribute, replacement in patches:
        monkeypatch.setattr(module, attribute, replacement)
    caught = {case.name for case in CASES if _fails(case)}
    assert must_catch <= caught, f"{name}: not caught by {sorted(must_catch - caught)}"
