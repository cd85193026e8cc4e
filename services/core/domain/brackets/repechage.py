"""Repechage and bronze bout positions (SPEC §7).

judo: the two quarterfinal losers of a half fight ``rep-{half}-1``; its winner meets the other half's
semifinal loser in ``bronze-{half}``. wrestling: the athletes the half's finalist beat before the
semifinal, earliest round first, form a ladder: ``rep-{half}-1`` is the round-1 victim against the
round-2 victim, ``rep-{half}-n`` the winner of ``rep-{half}-(n-1)`` against the round-(n+1) victim; its
last winner meets the other half's semifinal loser in ``bronze-{half}``. Ids depend on the bracket
size only; an entrant that is a bye makes the position a bye (no bout, the other athlete advances).
"""

from __future__ import annotations

from services.core.domain.brackets.feeds import (
    Feed,
    FinalistVictim,
    Half,
    LoserOf,
    Nobody,
    Phase,
    Position,
    WinnerOf,
    bronze_bout_id,
    main_bout_id,
    other_half,
    repechage_bout_id,
)
from services.core.domain.brackets.formats import BracketFormat, Repechage, ThirdPlace
from services.core.domain.brackets.places import REPECHAGE_LOSER_PLACE, bronze_places


def semifinal_id(division_id: str, half: Half, rounds: int) -> str:
    return main_bout_id(division_id, rounds - 1, 1 if half is Half.TOP else 2, rounds)


def ladder_rounds(rounds: int) -> list[int]:
    """Wrestling: the main rounds whose losers to a finalist enter the ladder, in ladder order."""
    return list(range(1, rounds - 1))


def _entrants(division_id: str, fmt: BracketFormat, half: Half, rounds: int) -> list[Feed]:
    if fmt.repechage is Repechage.WRESTLING:
        return [FinalistVictim(half, r) for r in ladder_rounds(rounds)]
    if rounds < 3:
        return []
    first = 1 if half is Half.TOP else 3
    return [LoserOf(main_bout_id(division_id, rounds - 2, i, rounds)) for i in (first, first + 1)]


def _ladder(division_id: str, half: Half, entrants: list[Feed]) -> tuple[list[Position], Feed]:
    """The chain of repechage positions over ``entrants`` and the feed of its last winner."""
    if not entrants:
        return [], Nobody()
    positions: list[Position] = []
    last = entrants[0]
    for n, entrant in enumerate(entrants[1:], start=1):
        bout_id = repechage_bout_id(division_id, half, n)
        positions.append(Position(bout_id, Phase.REPECHAGE, n, n, half, last, entrant, REPECHAGE_LOSER_PLACE))
        last = WinnerOf(bout_id)
    return positions, last


def repechage_positions(division_id: str, fmt: BracketFormat, rounds: int) -> list[Position]:
    """Every repechage and bronze position, in dependency order (ladders, then bronze bouts)."""
    if rounds < 2:
        return []
    winner_place, loser_place = bronze_places(fmt)
    if fmt.repechage is Repechage.NONE:
        if fmt.third_place is ThirdPlace.SHARED:
            return []
        red, blue = (LoserOf(semifinal_id(division_id, h, rounds)) for h in (Half.TOP, Half.BOTTOM))
        bout_id = bronze_bout_id(division_id, None)
        return [Position(bout_id, Phase.BRONZE, rounds, 1, None, red, blue, loser_place, winner_place)]
    ladders: list[Position] = []
    bronzes: list[Position] = []
    for index, half in enumerate((Half.TOP, Half.BOTTOM), start=1):
        positions, last = _ladder(division_id, half, _entrants(division_id, fmt, half, rounds))
        ladders += positions
        semifinal_loser = LoserOf(semifinal_id(division_id, other_half(half), rounds))
        bout_id = bronze_bout_id(division_id, half)
        bronzes.append(
            Position(bout_id, Phase.BRONZE, rounds, index, half, last, semifinal_loser, loser_place, winner_place)
        )
    return ladders + bronzes
