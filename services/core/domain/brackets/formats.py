"""Elimination formats as data (SPEC §7): the format, its repechage and its third place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.core.domain.brackets.errors import InvalidBracket


class FormatKind(StrEnum):
    ELIMINATION = "elimination"
    POOLS_THEN_ELIMINATION = "pools_then_elimination"


class Repechage(StrEnum):
    NONE = "none"
    JUDO = "judo"
    WRESTLING = "wrestling"


class ThirdPlace(StrEnum):
    BRONZE_BOUT = "bronze_bout"
    SHARED = "shared"


DEFAULT_ADVANCE = 2


@dataclass(frozen=True, slots=True)
class BracketFormat:
    """``third_place`` only matters without repechage; ``advance`` only for pools_then_elimination."""

    kind: FormatKind = FormatKind.ELIMINATION
    repechage: Repechage = Repechage.NONE
    third_place: ThirdPlace = ThirdPlace.BRONZE_BOUT
    advance: int = DEFAULT_ADVANCE

    @property
    def bronze_bouts(self) -> int:
        """How many bronze bouts the format has (0 when the semifinal losers share 3rd)."""
        if self.repechage is not Repechage.NONE:
            return 2
        return 1 if self.third_place is ThirdPlace.BRONZE_BOUT else 0


_KEYS = frozenset({"format", "repechage", "third_place", "advance"})


def _enum(data: Mapping[str, Any], key: str, enum: type[StrEnum], problems: list[str]) -> Any:
    raw: Any = data.get(key)
    try:
        return enum(raw)
    except ValueError:
        problems.append(f"{key} must be one of {', '.join(e.value for e in enum)} (got {raw!r})")
        return None


def format_from_dict(data: Mapping[str, Any]) -> BracketFormat:
    """Validate a division's bracket description (``format``, ``repechage``, ``third_place``,
    ``advance``) and build the BracketFormat; raise InvalidBracket listing every problem."""
    if not isinstance(data, Mapping):
        raise InvalidBracket(["the bracket format must be an object"])
    problems: list[str] = []
    unknown = sorted(str(k) for k in set(data) - _KEYS)
    if unknown:
        problems.append(f"unknown keys {unknown}")
    kind = _enum(data, "format", FormatKind, problems)
    repechage: Repechage | None = Repechage.NONE
    if "repechage" in data:
        repechage = _enum(data, "repechage", Repechage, problems)
    else:
        problems.append("repechage is required (none, judo or wrestling)")
    third = ThirdPlace.BRONZE_BOUT
    if "third_place" in data:
        third = _enum(data, "third_place", ThirdPlace, problems)
        if repechage not in (None, Repechage.NONE):
            problems.append("third_place applies only to repechage none (judo and wrestling have two bronze bouts)")
    advance = data.get("advance", DEFAULT_ADVANCE)
    if "advance" in data and kind is not FormatKind.POOLS_THEN_ELIMINATION:
        problems.append("advance applies only to format pools_then_elimination")
    if not isinstance(advance, int) or isinstance(advance, bool) or advance < 1:
        problems.append(f"advance must be an integer >= 1 (got {advance!r})")
    if problems or repechage is None:
        raise InvalidBracket(problems)
    return BracketFormat(kind, repechage, third, advance)
