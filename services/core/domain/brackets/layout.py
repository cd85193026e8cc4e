"""A division's bracket: its draw and every bout position with its feeds, in dependency order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from services.core.domain.brackets.draw import Draw, validate_draw
from services.core.domain.brackets.errors import InvalidBracket, UnknownBout
from services.core.domain.brackets.feeds import (
    Feed,
    FromDraw,
    Half,
    Phase,
    Position,
    WinnerOf,
    main_bout_id,
)
from services.core.domain.brackets.formats import BracketFormat
from services.core.domain.brackets.places import FINAL_PLACES, main_loser_place
from services.core.domain.brackets.repechage import repechage_positions


@dataclass(frozen=True, slots=True)
class Bracket:
    division_id: str
    format: BracketFormat
    draw: Draw
    positions: tuple[Position, ...]
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def size(self) -> int:
        return len(self.draw)

    @property
    def rounds(self) -> int:
        """Main rounds, the final included (log2 of the size)."""
        return self.size.bit_length() - 1

    @property
    def entrants(self) -> tuple[str, ...]:
        return tuple(a for a in self.draw if a is not None)

    @property
    def final_id(self) -> str:
        return main_bout_id(self.division_id, self.rounds, 1, self.rounds)

    def index_of(self, bout_id: str) -> int:
        """The position's place in dependency order; raises UnknownBout."""
        try:
            return self._index[bout_id]
        except KeyError:
            raise UnknownBout(bout_id) from None

    def position(self, bout_id: str) -> Position:
        return self.positions[self.index_of(bout_id)]

    def __contains__(self, bout_id: object) -> bool:
        return bout_id in self._index


def _main_positions(division_id: str, fmt: BracketFormat, rounds: int) -> list[Position]:
    """Round r has 2**(rounds - r) positions; index i (1-based) covers draw positions
    (i - 1) * 2**r .. i * 2**r - 1; red is the upper feed, blue the lower."""
    size = 2**rounds
    out: list[Position] = []
    for round_ in range(1, rounds + 1):
        for index in range(1, 2 ** (rounds - round_) + 1):
            feeds: tuple[Feed, Feed]
            if round_ == 1:
                feeds = (FromDraw(2 * index - 2), FromDraw(2 * index - 1))
            else:
                feeds = (
                    WinnerOf(main_bout_id(division_id, round_ - 1, 2 * index - 1, rounds)),
                    WinnerOf(main_bout_id(division_id, round_ - 1, 2 * index, rounds)),
                )
            final = round_ == rounds
            half = None if final else (Half.TOP if (index - 1) * 2**round_ < size // 2 else Half.BOTTOM)
            out.append(
                Position(
                    bout_id=main_bout_id(division_id, round_, index, rounds),
                    phase=Phase.FINAL if final else Phase.MAIN,
                    round=round_,
                    index=index,
                    half=half,
                    red=feeds[0],
                    blue=feeds[1],
                    loser_place=main_loser_place(fmt, rounds, round_),
                    winner_place=FINAL_PLACES[0] if final else None,
                )
            )
    return out


def build_bracket(division_id: str, fmt: BracketFormat, draw: Sequence[str | None]) -> Bracket:
    """The bracket of a validated draw (raises InvalidBracket listing every problem)."""
    problems = [] if division_id and division_id.strip() else ["division_id must be a non-empty string"]
    try:
        checked = validate_draw(draw)
    except InvalidBracket as exc:
        raise InvalidBracket([*problems, *exc.problems]) from None
    if problems:
        raise InvalidBracket(problems)
    rounds = len(checked).bit_length() - 1
    positions = (*_main_positions(division_id, fmt, rounds), *repechage_positions(division_id, fmt, rounds))
    index = {p.bout_id: i for i, p in enumerate(positions)}
    return Bracket(division_id, fmt, checked, positions, index)
