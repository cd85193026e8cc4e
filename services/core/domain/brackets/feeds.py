"""Bout positions of a bracket: where each slot's athlete comes from, and the deterministic bout ids.

Ids (``d`` is the division id, rounds counted from the first round, indexes from the top of the draw):
``d-r{round}-b{index}`` main-bracket rounds before the final, ``d-final``, ``d-rep-{half}-{n}``
repechage, ``d-bronze-{half}`` two bronze bouts, ``d-bronze`` the single bronze bout.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


class Half(StrEnum):
    """``top``: draw positions 1..size/2 (seed 1's half); ``bottom``: the rest (seed 2's half)."""

    TOP = "top"
    BOTTOM = "bottom"


class Phase(StrEnum):
    MAIN = "main"
    FINAL = "final"
    REPECHAGE = "repechage"
    BRONZE = "bronze"


class Vacancy(Enum):
    """A slot without an athlete: ``BYE`` nobody will ever stand there, ``WAITING`` not determined yet."""

    BYE = "bye"
    WAITING = "waiting"


Slot = str | Vacancy
"""Who stands in a slot: an athlete id or a vacancy."""


@dataclass(frozen=True, slots=True)
class FromDraw:
    """The athlete drawn at bracket position ``position`` (0-based), or a bye."""

    position: int


@dataclass(frozen=True, slots=True)
class WinnerOf:
    bout_id: str


@dataclass(frozen=True, slots=True)
class LoserOf:
    bout_id: str


@dataclass(frozen=True, slots=True)
class FinalistVictim:
    """Wrestling: the athlete ``half``'s finalist beat in main round ``round`` (a bye when the finalist
    had a bye there); waiting until both finalists are known."""

    half: Half
    round: int


@dataclass(frozen=True, slots=True)
class Nobody:
    """A slot no athlete can ever reach (a repechage with no entrant): always a bye."""


Feed = FromDraw | WinnerOf | LoserOf | FinalistVictim | Nobody


def describe_feed(feed: Feed) -> str:
    """What a slot waits for, in words (for a 409 that says which slot is open)."""
    if isinstance(feed, WinnerOf):
        return f"the winner of {feed.bout_id}"
    if isinstance(feed, LoserOf):
        return f"the loser of {feed.bout_id}"
    if isinstance(feed, FinalistVictim):
        return f"the athlete the {feed.half} half's finalist beat in round {feed.round} (known once both finalists are)"
    if isinstance(feed, FromDraw):
        return f"draw position {feed.position + 1}"
    return "nobody (a bye)"


@dataclass(frozen=True, slots=True)
class Position:
    """One bout position. ``round`` is the main round (1 = first, the final is the last), the ladder
    step for a repechage bout, and the final's round for a bronze bout. ``loser_place`` is the placing
    its loser keeps if they fight no more; ``winner_place`` is set for the final and bronze bouts."""

    bout_id: str
    phase: Phase
    round: int
    index: int
    half: Half | None
    red: Feed
    blue: Feed
    loser_place: int
    winner_place: int | None = None


def other_half(half: Half) -> Half:
    return Half.BOTTOM if half is Half.TOP else Half.TOP


def main_bout_id(division_id: str, round_: int, index: int, rounds: int) -> str:
    return f"{division_id}-final" if round_ == rounds else f"{division_id}-r{round_}-b{index}"


def repechage_bout_id(division_id: str, half: Half, n: int) -> str:
    return f"{division_id}-rep-{half}-{n}"


def bronze_bout_id(division_id: str, half: Half | None) -> str:
    return f"{division_id}-bronze" if half is None else f"{division_id}-bronze-{half}"
