"""Who fights a bout, as the intake asks before accepting a post (a 409 names the open slot)."""

from __future__ import annotations

from dataclasses import dataclass

from services.core.domain.brackets.feeds import Vacancy, describe_feed
from services.core.domain.brackets.fought import BracketRevision, FoughtResult
from services.core.domain.brackets.state import BracketState

SLOT_NOT_DETERMINED = "slot_not_determined"
NO_BOUT = "no_bout"


@dataclass(frozen=True, slots=True)
class OpenSlot:
    side: str  # "red" or "blue"
    waits_for: str


@dataclass(frozen=True, slots=True)
class Participants:
    """``red``/``blue`` are set when that slot holds an athlete. ``bye``: the position is a bye and no
    bout will be fought there. ``open_slots``: the slots not determined yet and what they wait for."""

    bout_id: str
    red: str | None
    blue: str | None
    bye: bool
    open_slots: tuple[OpenSlot, ...]

    @property
    def known(self) -> bool:
        """Both athletes are known: a result for this bout can be accepted (fought between them)."""
        return self.red is not None and self.blue is not None

    def problem(self) -> str | None:
        """Why a result cannot be posted now, in words; None when it can."""
        if self.known:
            return None
        if self.bye:
            return f"{self.bout_id} is a bye: there is no bout to record"
        slots = "; ".join(f"{s.side} slot waits for {s.waits_for}" for s in self.open_slots)
        return f"{self.bout_id}: {slots}"


def participants(state: BracketState, bout_id: str) -> Participants:
    """Both athletes of a bout position if known, else which slot is open; raises UnknownBout."""
    bout = state[bout_id]
    position = bout.position
    open_slots = tuple(
        OpenSlot(side, describe_feed(feed))
        for side, slot, feed in (("red", bout.red, position.red), ("blue", bout.blue, position.blue))
        if slot is Vacancy.WAITING
    )
    return Participants(
        bout_id=position.bout_id,
        red=bout.red if isinstance(bout.red, str) else None,
        blue=bout.blue if isinstance(bout.blue, str) else None,
        bye=Vacancy.BYE in (bout.red, bout.blue),
        open_slots=open_slots,
    )


def rejection(state: BracketState, rev: BracketRevision) -> str | None:
    """Why the projector cannot apply a bracket result as it arrives (the error it dead-letters
    with), or None: ``no_bout`` for a position that is a bye, ``slot_not_determined`` while a slot
    is open. A result fought between other athletes than the slots hold is applied (it is then
    invalidated and shown as needing a re-fight); a void is always applied. Raises UnknownBout."""
    who = participants(state, rev.bout_id)
    if not isinstance(rev, FoughtResult) or who.known:
        return None
    return NO_BOUT if who.bye else SLOT_NOT_DETERMINED
