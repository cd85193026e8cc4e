"""Elimination brackets (SPEC §7), pure: formats, the draw, bout positions and ids, state from the
results, repechage, placings and per-athlete rows. See docs/brackets.md."""

from services.core.domain.brackets.draw import Draw, bracket_size, draw_from_seeds, seeding_order, validate_draw
from services.core.domain.brackets.errors import InvalidBracket, UnknownBout
from services.core.domain.brackets.feeds import (
    FinalistVictim,
    FromDraw,
    Half,
    LoserOf,
    Nobody,
    Phase,
    Position,
    Slot,
    Vacancy,
    WinnerOf,
)
from services.core.domain.brackets.formats import BracketFormat, FormatKind, Repechage, ThirdPlace, format_from_dict
from services.core.domain.brackets.fought import BracketRevision, FoughtResult, effective_fought_results
from services.core.domain.brackets.layout import Bracket, build_bracket
from services.core.domain.brackets.participants import (
    NO_BOUT,
    SLOT_NOT_DETERMINED,
    OpenSlot,
    Participants,
    participants,
    rejection,
)
from services.core.domain.brackets.placings import Placing, final_placings, is_complete, placings
from services.core.domain.brackets.pools import draw_from_pools, pool_placings
from services.core.domain.brackets.rows import bracket_rows, counted_bouts
from services.core.domain.brackets.state import BoutState, BracketState, Status, apply_revision, bracket_state

__all__ = [
    "NO_BOUT",
    "SLOT_NOT_DETERMINED",
    "BoutState",
    "Bracket",
    "BracketFormat",
    "BracketRevision",
    "BracketState",
    "Draw",
    "FinalistVictim",
    "FormatKind",
    "FoughtResult",
    "FromDraw",
    "Half",
    "InvalidBracket",
    "LoserOf",
    "Nobody",
    "OpenSlot",
    "Participants",
    "Phase",
    "Placing",
    "Position",
    "Repechage",
    "Slot",
    "Status",
    "ThirdPlace",
    "UnknownBout",
    "Vacancy",
    "WinnerOf",
    "apply_revision",
    "bracket_rows",
    "bracket_size",
    "bracket_state",
    "build_bracket",
    "counted_bouts",
    "draw_from_pools",
    "draw_from_seeds",
    "effective_fought_results",
    "final_placings",
    "format_from_dict",
    "is_complete",
    "participants",
    "placings",
    "pool_placings",
    "rejection",
    "seeding_order",
    "validate_draw",
]
