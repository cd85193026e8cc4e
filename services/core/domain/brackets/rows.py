"""Per-athlete rows of a bracket division (SPEC §7): §3's tallies over the bouts that count, ranked
by placing. Scoring is the ruleset's, through ``compute_standings``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from services.core.domain.brackets.placings import Placing
from services.core.domain.brackets.state import BracketState, Status
from services.core.domain.results import Bout, BoutResult
from services.core.domain.ruleset import Ruleset
from services.core.domain.standings import StandingRow, compute_standings


def counted_bouts(state: BracketState) -> list[tuple[Bout, BoutResult]]:
    """The bracket bouts that count: decided ones, between the athletes they were fought between.
    Byes, invalidated results and draws/no-contests (which decide nothing) are not among them."""
    return [
        (Bout(b.bout_id, b.result.red, b.result.blue), b.result.result)
        for b in state.with_status(Status.DECIDED)
        if b.result is not None
    ]


def bracket_rows(
    state: BracketState,
    placings: Sequence[Placing],
    ruleset: Ruleset,
    other_bouts: Iterable[tuple[Bout, BoutResult | None]] = (),
) -> list[StandingRow]:
    """One row per placed athlete: rank = placing, tallies over the counted bracket bouts plus
    ``other_bouts`` (a pools_then_elimination division's pool bouts, each with the result that
    counts or None). Ordered by placing, then athlete id; shared placings are not unresolved ties."""
    bouts: list[Bout] = []
    results: dict[str, BoutResult] = {}
    for bout, result in [*counted_bouts(state), *other_bouts]:
        bouts.append(bout)
        if result is not None:
            results[bout.bout_id] = result
    tallies: Mapping[str, StandingRow] = {
        row.athlete_id: row for row in compute_standings([p.athlete_id for p in placings], bouts, results, ruleset)
    }
    return [
        replace(tallies[p.athlete_id], rank=p.place, tie_unresolved=False)
        for p in sorted(placings, key=lambda p: (p.place, p.athlete_id))
    ]
