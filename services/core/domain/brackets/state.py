"""Bracket state as a pure function of each bout's highest revision (SPEC §7).

Positions are evaluated in dependency order: a slot is resolved from its feed (the draw, the winner
or loser of an earlier position, a finalist's victim), then the position's status follows from its
slots and the result that counts for it. A stored result counts only while the athletes it was
fought between are the two in its slots; otherwise the position is invalidated (needs a re-fight).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from services.core.domain.brackets.feeds import (
    Feed,
    FinalistVictim,
    FromDraw,
    Half,
    LoserOf,
    Position,
    Slot,
    Vacancy,
    WinnerOf,
    main_bout_id,
)
from services.core.domain.brackets.fought import (
    BracketRevision,
    FoughtResult,
    effective_fought_results,
    loser_of,
    winner_of,
)
from services.core.domain.brackets.layout import Bracket


class Status(StrEnum):
    WAITING = "waiting"  # a slot is not determined yet
    OPEN = "open"  # both athletes known, no deciding result
    DECIDED = "decided"  # a deciding result fought between the two athletes in the slots
    BYE = "bye"  # a slot is a bye: no bout, the other slot's athlete advances
    INVALIDATED = "invalidated"  # a stored result fought between other athletes: counts nowhere, re-fight


@dataclass(frozen=True, slots=True)
class BoutState:
    """``result`` is the result that counts (decided only); ``stored`` is the stored result that
    counts for the bout's highest revision, whether or not it decides or still fits the slots."""

    position: Position
    red: Slot
    blue: Slot
    status: Status
    winner: Slot
    loser: Slot
    result: FoughtResult | None = None
    stored: FoughtResult | None = None

    @property
    def bout_id(self) -> str:
        return self.position.bout_id

    @property
    def invalidated(self) -> bool:
        """A stored result whose athletes are not the two in the slots (status invalidated, or a
        position that became a bye): it counts nowhere and is reported, never dropped silently."""
        return self.stored is not None and not fought_between(self.stored, self.red, self.blue)


Log = Mapping[str, frozenset[BracketRevision]]
"""bout_id -> the revisions posted at that bout's highest revision number (duplicates collapse)."""


@dataclass(frozen=True, slots=True)
class BracketState:
    bracket: Bracket
    log: Log
    bouts: Mapping[str, BoutState]

    def __getitem__(self, bout_id: str) -> BoutState:
        return self.bouts[self.bracket.position(bout_id).bout_id]

    def with_status(self, *statuses: Status) -> tuple[BoutState, ...]:
        return tuple(b for b in self.bouts.values() if b.status in statuses)

    def invalidated(self) -> tuple[BoutState, ...]:
        """Positions holding a stored result that counts nowhere (for the re-fight view and metric)."""
        return tuple(b for b in self.bouts.values() if b.invalidated)


def _resolve(bracket: Bracket, feed: Feed, done: Mapping[str, BoutState]) -> Slot:
    if isinstance(feed, FromDraw):
        athlete = bracket.draw[feed.position]
        return Vacancy.BYE if athlete is None else athlete
    if isinstance(feed, WinnerOf):
        return done[feed.bout_id].winner
    if isinstance(feed, LoserOf):
        return done[feed.bout_id].loser
    if isinstance(feed, FinalistVictim):
        return _finalist_victim(bracket, feed, done)
    return Vacancy.BYE


def _finalist_victim(bracket: Bracket, feed: FinalistVictim, done: Mapping[str, BoutState]) -> Slot:
    """Who the half's finalist beat in ``feed.round``: the loser of that round's position on the
    finalist's path (a bye if the finalist had one); waiting until both finalists are known."""
    final = done[bracket.final_id]
    if not (isinstance(final.red, str) and isinstance(final.blue, str)):
        return Vacancy.WAITING
    finalist = final.red if feed.half is Half.TOP else final.blue
    index = bracket.draw.index(finalist) // 2**feed.round + 1
    return done[main_bout_id(bracket.division_id, feed.round, index, bracket.rounds)].loser


def fought_between(stored: FoughtResult, red: Slot, blue: Slot) -> bool:
    """The stored result was fought between the two athletes now in the slots (in either colour)."""
    return stored.athletes == {red, blue}


def _bout_state(position: Position, red: Slot, blue: Slot, stored: FoughtResult | None) -> BoutState:
    waiting = Vacancy.WAITING
    if Vacancy.BYE in (red, blue):
        advances = blue if red is Vacancy.BYE else red
        return BoutState(position, red, blue, Status.BYE, advances, Vacancy.BYE, stored=stored)
    if stored is not None and not fought_between(stored, red, blue):
        return BoutState(position, red, blue, Status.INVALIDATED, waiting, waiting, stored=stored)
    if isinstance(red, Vacancy) or isinstance(blue, Vacancy):
        return BoutState(position, red, blue, Status.WAITING, waiting, waiting)
    winner = None if stored is None else winner_of(stored)
    if stored is None or winner is None:
        return BoutState(position, red, blue, Status.OPEN, waiting, waiting, stored=stored)
    loser = loser_of(stored) or waiting
    return BoutState(position, red, blue, Status.DECIDED, winner, loser, result=stored, stored=stored)


def _evaluate(bracket: Bracket, log: Log, done: dict[str, BoutState], start: int) -> BracketState:
    for position in bracket.positions[start:]:
        red = _resolve(bracket, position.red, done)
        blue = _resolve(bracket, position.blue, done)
        stored = effective_fought_results(log.get(position.bout_id, ())).get(position.bout_id)
        done[position.bout_id] = _bout_state(position, red, blue, stored)
    return BracketState(bracket, log, done)


def _add(log: dict[str, frozenset[BracketRevision]], rev: BracketRevision) -> bool:
    """Keep ``rev`` if it is at or above its bout's highest revision; True when the log changed."""
    current = log.get(rev.bout_id, frozenset())
    top = max((r.revision for r in current), default=0)
    if rev.revision < top or rev in current:
        return False
    log[rev.bout_id] = current | {rev} if rev.revision == top else frozenset({rev})
    return True


def bracket_state(bracket: Bracket, revisions: Iterable[BracketRevision]) -> BracketState:
    """The bracket from the raw revision log: any arrival order, duplicates and replays give the
    same state. Revisions of bouts that are not positions of this bracket are ignored."""
    log: dict[str, frozenset[BracketRevision]] = {}
    for rev in revisions:
        if rev.bout_id in bracket:
            _add(log, rev)
    return _evaluate(bracket, log, {}, 0)


def apply_revision(state: BracketState, rev: BracketRevision) -> BracketState:
    """``state`` with one more revision: only the changed position and those after it are
    re-evaluated (positions only depend on earlier ones). Equal to recomputing from scratch."""
    bracket = state.bracket
    if rev.bout_id not in bracket:
        return state
    log = dict(state.log)
    if not _add(log, rev):
        return state
    start = bracket.index_of(rev.bout_id)
    kept = {p.bout_id: state.bouts[p.bout_id] for p in bracket.positions[:start]}
    return _evaluate(bracket, log, kept, start)
