"""Bout results and their revisions (SPEC §2–§3). Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Winner(StrEnum):
    RED = "red"
    BLUE = "blue"
    DRAW = "draw"
    NONE = "none"


class Method(StrEnum):
    KO = "ko"
    TKO = "tko"
    SUBMISSION = "submission"
    FALL = "fall"
    TECHNICAL_SUPERIORITY = "technical_superiority"
    DECISION = "decision"
    POINTS = "points"
    DISQUALIFICATION = "disqualification"
    WALKOVER = "walkover"
    DRAW = "draw"
    NO_CONTEST = "no_contest"


class InvalidResult(ValueError):
    """A result whose winner, method and score do not agree."""


@dataclass(frozen=True, slots=True)
class Score:
    red: int
    blue: int


@dataclass(frozen=True, slots=True)
class Bout:
    bout_id: str
    red: str
    blue: str


@dataclass(frozen=True, slots=True)
class BoutResult:
    """Revision ``revision`` of a bout's result."""

    bout_id: str
    revision: int
    winner: Winner
    method: Method
    score: Score
    duration_s: int | None = None
    referee_id: str | None = None

    def validate(self) -> None:
        """Raise InvalidResult when the fields contradict each other."""
        check_result_fields(self.winner, self.method, self.score, self.revision)


@dataclass(frozen=True, slots=True)
class BoutVoid:
    """Revision ``revision`` annuls the bout (a later, higher result revision reinstates it)."""

    bout_id: str
    revision: int


Revision = BoutResult | BoutVoid

MAX_SCORE = 999


def check_result_fields(winner: Winner, method: Method, score: Score, revision: int) -> None:
    problems: list[str] = []
    if revision < 1:
        problems.append("revision must be >= 1")
    for side, value in (("red", score.red), ("blue", score.blue)):
        if not 0 <= value <= MAX_SCORE:
            problems.append(f"score.{side} must be between 0 and {MAX_SCORE}")
    if method is Method.DRAW and winner is not Winner.DRAW:
        problems.append("method 'draw' needs winner 'draw'")
    if winner is Winner.DRAW and method is not Method.DRAW:
        problems.append("winner 'draw' needs method 'draw'")
    if method is Method.NO_CONTEST and winner is not Winner.NONE:
        problems.append("method 'no_contest' needs winner 'none'")
    if winner is Winner.NONE and method is not Method.NO_CONTEST:
        problems.append("winner 'none' needs method 'no_contest'")
    if problems:
        raise InvalidResult("; ".join(problems))


def effective_results(revisions: Iterable[Revision]) -> dict[str, BoutResult]:
    """The result that counts for each bout: its highest revision, unless that is a void.

    Arrival order and duplicates do not matter. Two different payloads at the same
    (bout, revision) are a conflict the caller resolves before this (first applied wins);
    here the tie is broken deterministically so the function stays total.
    """
    best: dict[str, Revision] = {}
    for rev in revisions:
        cur = best.get(rev.bout_id)
        if (
            cur is None
            or rev.revision > cur.revision
            or (rev.revision == cur.revision and _tiebreak_key(rev) < _tiebreak_key(cur))
        ):
            best[rev.bout_id] = rev
    return {bout_id: rev for bout_id, rev in best.items() if isinstance(rev, BoutResult)}


def _tiebreak_key(rev: Revision) -> tuple[int, str]:
    return (0, "") if isinstance(rev, BoutVoid) else (1, repr(rev))


def is_same_payload(a: Revision, b: Revision) -> bool:
    """True when two submissions at one (bout, revision) are the same (a duplicate, not a conflict)."""
    return a == b


def results_for_bouts(results: Mapping[str, BoutResult], bout_ids: Iterable[str]) -> dict[str, BoutResult]:
    wanted = set(bout_ids)
    return {b: r for b, r in results.items() if b in wanted}
