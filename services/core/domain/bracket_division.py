"""A bracket division as the projection sees it (SPEC §7): its registered description, its state
from the stored revisions, its placings, standings rows and ``bracket_bouts`` rows.

One pure function of the revision log, used by the projector's planner (which result to dead-letter,
at its place in the log), the standings recompute (projector batch, registration refresh, drift
audit) and the replay, so all of them agree. Each bout's highest revision counts, a void annuls it
(``bracket_state`` and ``effective_results`` underneath): arrival order, duplicates and replays do
not change the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.core.domain.brackets import (
    NO_BOUT,
    SLOT_NOT_DETERMINED,
    BoutState,
    Bracket,
    BracketFormat,
    BracketRevision,
    BracketState,
    Draw,
    FormatKind,
    FoughtResult,
    Placing,
    Status,
    bracket_rows,
    bracket_state,
    build_bracket,
    draw_from_pools,
    draw_from_seeds,
    format_from_dict,
    participants,
    placings,
    pool_placings,
    rejection,
)
from services.core.domain.results import Bout, BoutResult, BoutVoid, Revision, effective_results
from services.core.domain.ruleset import Ruleset
from services.core.domain.standings import StandingRow, compute_standings

NOT_DRAWN = "the draw from the pools (once every pool bout is decided)"


@dataclass(frozen=True, slots=True)
class Pool:
    pool_id: str
    athletes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DivisionBracket:
    """``divisions.bracket`` as registered: the format, the first-round draw (elimination) or the
    pools (pools_then_elimination, drawn from their standings)."""

    division_id: str
    format: BracketFormat
    draw: Draw | None
    pools: tuple[Pool, ...] = ()

    @property
    def pooled(self) -> bool:
        return self.format.kind is FormatKind.POOLS_THEN_ELIMINATION


def division_bracket(division_id: str, data: Mapping[str, Any]) -> DivisionBracket:
    """Read a stored ``divisions.bracket``; raises InvalidBracket. Only the keys that apply to the
    format are passed to ``format_from_dict`` (the stored shape always carries every key)."""
    kind, repechage = data.get("format"), data.get("repechage")
    fields: dict[str, Any] = {"format": kind, "repechage": repechage}
    if repechage == "none" and data.get("third_place") is not None:
        fields["third_place"] = data["third_place"]
    if kind == FormatKind.POOLS_THEN_ELIMINATION and data.get("advance") is not None:
        fields["advance"] = data["advance"]
    fmt = format_from_dict(fields)
    if fmt.kind is FormatKind.POOLS_THEN_ELIMINATION:
        pools = tuple(Pool(str(p["pool_id"]), tuple(p["athletes"])) for p in data.get("pools") or ())
        return DivisionBracket(division_id, fmt, None, pools)
    draw = data.get("draw")
    return DivisionBracket(division_id, fmt, tuple(draw) if draw else draw_from_seeds(data.get("seeds") or ()))


@dataclass(frozen=True, slots=True)
class BracketDivision:
    """What the projector's planner knows of a bracket division besides its stored revisions: its
    description, the fixed bouts of its pools and every registered bout id."""

    spec: DivisionBracket
    pool_bouts: tuple[Bout, ...]
    bout_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class BracketProjection:
    """``drawn`` is false while a pools_then_elimination division's pools are being fought: the
    bracket then has the positions of its size (a stand-in draw) and every one of them waits."""

    spec: DivisionBracket
    state: BracketState
    drawn: bool
    pool_rows: tuple[tuple[StandingRow, ...], ...] = ()
    pool_bouts: tuple[tuple[Bout, BoutResult | None], ...] = ()

    @property
    def bracket(self) -> Bracket:
        return self.state.bracket


AnyRevision = BracketRevision | Revision


def _pool_projection(
    spec: DivisionBracket, pool_bouts: Sequence[Bout], revisions: Sequence[AnyRevision], ruleset: Ruleset
) -> tuple[Draw | None, Draw, tuple[tuple[StandingRow, ...], ...], tuple[tuple[Bout, BoutResult | None], ...]]:
    """The pools' standings and, once every pool bout has a result that counts, the draw from them."""
    ids = {b.bout_id for b in pool_bouts}
    results = effective_results(r.result if isinstance(r, FoughtResult) else r for r in revisions if r.bout_id in ids)
    rows = []
    for pool in spec.pools:
        members = set(pool.athletes)
        bouts = [b for b in pool_bouts if b.red in members]
        rows.append(tuple(compute_standings(pool.athletes, bouts, results, ruleset)))
    advance = spec.format.advance
    stand_in = draw_from_pools([p.athletes for p in spec.pools], advance)
    decided = all(b.bout_id in results for b in pool_bouts)
    draw = draw_from_pools([[r.athlete_id for r in pool] for pool in rows], advance) if decided else None
    return draw, stand_in, tuple(rows), tuple((b, results.get(b.bout_id)) for b in pool_bouts)


def project(
    spec: DivisionBracket, pool_bouts: Sequence[Bout], revisions: Iterable[AnyRevision], ruleset: Ruleset
) -> BracketProjection:
    """The division from its revision log (any order). ``pool_bouts``: the fixed bouts of a
    pools_then_elimination division's pools. A bracket result without its athletes counts nowhere."""
    revs = list(revisions)
    fought = [r for r in revs if isinstance(r, FoughtResult | BoutVoid)]
    if not spec.pooled:
        assert spec.draw is not None
        return BracketProjection(
            spec, bracket_state(build_bracket(spec.division_id, spec.format, spec.draw), fought), True
        )
    draw, stand_in, rows, bouts = _pool_projection(spec, pool_bouts, revs, ruleset)
    bracket = build_bracket(spec.division_id, spec.format, draw or stand_in)
    return BracketProjection(spec, bracket_state(bracket, fought if draw else ()), draw is not None, rows, bouts)


def rejected(projection: BracketProjection, rev: AnyRevision) -> tuple[str, str] | None:
    """(reason, detail) when a result cannot be applied at this point of the log: its bout's slots
    are not both known (``slot_not_determined``) or the position is a bye (``no_bout``). None for a
    void, a pool bout, or a result whose athletes are known."""
    if rev.bout_id not in projection.bracket or isinstance(rev, BoutVoid):
        return None
    if not projection.drawn:
        return SLOT_NOT_DETERMINED, f"{rev.bout_id}: both slots wait for {NOT_DRAWN}"
    who = participants(projection.state, rev.bout_id)
    if not isinstance(rev, FoughtResult):
        return (NO_BOUT if who.bye else SLOT_NOT_DETERMINED), f"{rev.bout_id}: a bracket result must name its athletes"
    reason = rejection(projection.state, rev)
    return None if reason is None else (reason, who.problem() or reason)


def division_placings(projection: BracketProjection) -> tuple[Placing, ...]:
    """Bracket placings (provisional while unfinished), then the athletes who stayed in their pool;
    before the draw, every athlete by pool rank."""
    if not projection.drawn:
        return pool_placings(projection.pool_rows, 0, 0)
    bracket = placings(projection.state)
    if not projection.spec.pooled:
        return bracket
    return (*bracket, *pool_placings(projection.pool_rows, projection.spec.format.advance, projection.bracket.size))


def division_rows(projection: BracketProjection, ruleset: Ruleset) -> list[StandingRow]:
    """The standings rows: rank = placing, §3 tallies over the bouts that count (pool bouts included)."""
    return bracket_rows(projection.state, division_placings(projection), ruleset, projection.pool_bouts)


@dataclass(frozen=True, slots=True)
class BracketBoutRow:
    """One ``bracket_bouts`` row (without its tournament and division)."""

    bout_id: str
    phase: str
    round: int
    idx: int
    half: str | None
    status: str
    red_athlete_id: str | None
    blue_athlete_id: str | None
    waiting_for: str | None
    winner_athlete_id: str | None
    counted_revision: int | None
    invalidated_revision: int | None


def _athlete(slot: object) -> str | None:
    return slot if isinstance(slot, str) else None


def _row(projection: BracketProjection, bout: BoutState) -> BracketBoutRow:
    p = bout.position
    half = None if p.half is None else p.half.value
    if not projection.drawn:
        waits = f"red slot waits for {NOT_DRAWN}; blue slot waits for {NOT_DRAWN}"
        return BracketBoutRow(
            p.bout_id, p.phase.value, p.round, p.index, half, Status.WAITING.value, None, None, waits, None, None, None
        )
    who = participants(projection.state, p.bout_id)
    open_slots = "; ".join(f"{s.side} slot waits for {s.waits_for}" for s in who.open_slots)
    counted = bout.result if bout.status is Status.DECIDED else None
    return BracketBoutRow(
        bout_id=p.bout_id,
        phase=p.phase.value,
        round=p.round,
        idx=p.index,
        half=half,
        status=bout.status.value,
        red_athlete_id=_athlete(bout.red),
        blue_athlete_id=_athlete(bout.blue),
        waiting_for=open_slots if open_slots and bout.status is not Status.BYE else None,
        winner_athlete_id=_athlete(bout.winner) if counted else None,
        counted_revision=counted.revision if counted else None,
        invalidated_revision=bout.stored.revision if bout.invalidated and bout.stored else None,
    )


def bout_rows(projection: BracketProjection) -> list[BracketBoutRow]:
    """Every position as it stands, in dependency order."""
    return [_row(projection, bout) for bout in projection.state.bouts.values()]


def invalidated_bouts(projection: BracketProjection) -> int:
    """Positions whose stored result counts nowhere (the re-fight metric)."""
    return len(projection.state.invalidated()) if projection.drawn else 0


__all__ = [
    "NOT_DRAWN",
    "BracketBoutRow",
    "BracketDivision",
    "BracketProjection",
    "DivisionBracket",
    "Pool",
    "bout_rows",
    "division_bracket",
    "division_placings",
    "division_rows",
    "invalidated_bouts",
    "project",
    "rejected",
]
