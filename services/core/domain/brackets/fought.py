"""Bracket results: a bout's result with the two athletes it was fought between, and which one counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.core.domain.results import BoutResult, BoutVoid, InvalidResult, Revision, Winner, effective_results


@dataclass(frozen=True, slots=True)
class FoughtResult:
    """A result of a bracket bout as posted: ``red`` and ``blue`` are the athletes it was fought
    between (the intake fills them from the slots when it accepts the post); ``result.winner`` names
    a colour of these two."""

    result: BoutResult
    red: str
    blue: str

    @property
    def bout_id(self) -> str:
        return self.result.bout_id

    @property
    def revision(self) -> int:
        return self.result.revision

    @property
    def athletes(self) -> frozenset[str]:
        return frozenset((self.red, self.blue))

    def validate(self) -> None:
        """Raise InvalidResult when the result's fields contradict each other or red is blue."""
        self.result.validate()
        if self.red == self.blue:
            raise InvalidResult("a bout is fought between two different athletes")


BracketRevision = FoughtResult | BoutVoid


def winner_of(fought: FoughtResult) -> str | None:
    """The athlete a result sends on, or None: a draw or no_contest does not decide an elimination bout."""
    if fought.result.winner is Winner.RED:
        return fought.red
    if fought.result.winner is Winner.BLUE:
        return fought.blue
    return None


def loser_of(fought: FoughtResult) -> str | None:
    winner = winner_of(fought)
    if winner is None:
        return None
    return fought.blue if winner == fought.red else fought.red


def _inner(rev: BracketRevision) -> Revision:
    return rev.result if isinstance(rev, FoughtResult) else rev


def effective_fought_results(revisions: Iterable[BracketRevision]) -> dict[str, FoughtResult]:
    """``effective_results`` for bracket revisions: each bout's highest revision counts, a void annuls.
    Two posts of one result with different athletes are a conflict resolved before this; here the
    smaller (red, blue) is kept so the function stays total and order-independent."""
    revs = list(revisions)
    chosen = effective_results(_inner(r) for r in revs)
    athletes: dict[str, tuple[str, str]] = {}
    for rev in revs:
        if isinstance(rev, FoughtResult) and chosen.get(rev.bout_id) == rev.result:
            pair = (rev.red, rev.blue)
            athletes[rev.bout_id] = min(athletes.get(rev.bout_id, pair), pair)
    return {bout_id: FoughtResult(result, *athletes[bout_id]) for bout_id, result in chosen.items()}
