"""Placings of a bracket (SPEC §7): 1, 2, 3/3, 4 or 5/5, 5s or 7s, then 9, 17, ... by the round lost.

Each entrant's placing comes from the last position they stand in (positions are in dependency
order, so that is where their run ended or where they fight next): the winner of the final or of a
bronze bout (a bye there included) takes its ``winner_place``; anyone else that position's
``loser_place``. A placing is *decided* when it can no longer change.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.core.domain.brackets.feeds import Phase, Vacancy
from services.core.domain.brackets.formats import Repechage
from services.core.domain.brackets.state import BoutState, BracketState, Status


@dataclass(frozen=True, slots=True, order=True)
class Placing:
    """``place`` is final when ``decided``; otherwise it is the placing the athlete has secured: the
    one they keep if they lose the bout they stand in next (it can still improve, never worsen)."""

    place: int
    athlete_id: str
    decided: bool


def _may_enter_ladder(state: BracketState, bout: BoutState) -> bool:
    """Wrestling: a loser before the semifinal may still enter a ladder until both finalists are known."""
    bracket = state.bracket
    if bracket.format.repechage is not Repechage.WRESTLING or bout.position.phase is not Phase.MAIN:
        return False
    if bout.position.round > bracket.rounds - 2:
        return False
    final = state.bouts[bracket.final_id]
    return not (isinstance(final.red, str) and isinstance(final.blue, str))


def _placing(state: BracketState, athlete: str, bout: BoutState) -> Placing:
    position = bout.position
    advanced = bout.status in (Status.DECIDED, Status.BYE) and bout.winner == athlete
    if advanced and position.winner_place is not None:
        return Placing(position.winner_place, athlete, True)
    if bout.status is Status.DECIDED and bout.loser == athlete:
        return Placing(position.loser_place, athlete, not _may_enter_ladder(state, bout))
    return Placing(position.loser_place, athlete, False)


def placings(state: BracketState) -> tuple[Placing, ...]:
    """Every entrant's placing, decided or secured so far, ordered by place then athlete id."""
    last: dict[str, BoutState] = {}
    for bout in state.bouts.values():
        for slot in (bout.red, bout.blue):
            if not isinstance(slot, Vacancy):
                last[slot] = bout
    return tuple(sorted(_placing(state, a, last[a]) for a in state.bracket.entrants))


def is_complete(state: BracketState) -> bool:
    """Every position is decided or a bye (so every placing is decided)."""
    return all(b.status in (Status.DECIDED, Status.BYE) for b in state.bouts.values())


def final_placings(state: BracketState) -> tuple[Placing, ...] | None:
    """The placings once the bracket is complete, else None."""
    return placings(state) if is_complete(state) else None
