"""Bracket divisions for the projector tests, the soak and the bench (SPEC §7).

``add_bracket_division`` registers a division the way the registration import leaves it: the
``divisions.bracket`` description, the entries, a ``bouts`` row for every bracket position (no fixed
athletes) after the pool bouts (fixed athletes) of a pools_then_elimination division.

``bracket_stream`` plays a live-like result stream for one division, walked through the pure domain
as the mat would see it: every result names the two athletes its bout's slots hold when it is
posted; corrections flip a decided bout's winner (downstream slots re-route, fought bouts are
invalidated, then re-fought at their next revision), voids re-open a bout, exact retries repeat an
event, and a few results arrive for a bout whose slot is still open (``slot_not_determined``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from services.core import events
from services.core.domain import bracket_division as bd
from services.core.domain.brackets import BoutState, FoughtResult, Status
from services.core.domain.results import Bout, BoutResult, BoutVoid, Score, Winner
from services.core.domain.ruleset import COMBAT_DEFAULT, Ruleset
from services.core.domain.standings import StandingRow
from tests.projector_support import WIN_METHODS, Registration, random_result


def bracket_description(
    fmt: str = "elimination",
    *,
    repechage: str = "none",
    third_place: str | None = "bronze_bout",
    seeds: Sequence[str] | None = None,
    draw: Sequence[str | None] | None = None,
    pools: Sequence[Sequence[str]] | None = None,
    advance: int = 2,
) -> dict[str, Any]:
    """``divisions.bracket`` as the registration import stores it (every key present)."""
    return {
        "format": fmt,
        "repechage": repechage,
        "third_place": third_place if repechage == "none" else None,
        "advance": advance,
        "seeds": list(seeds) if seeds is not None else None,
        "draw": list(draw) if draw is not None else None,
        "pools": (
            [{"pool_id": chr(ord("A") + i), "athletes": list(p)} for i, p in enumerate(pools)] if pools else None
        ),
    }


def pool_bout_rows(t: str, d: str, bracket: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(bout id, red, blue) of every pairing of each pool, ids ``{t}-{d}-{pool}-{n:03d}``."""
    return [
        (f"{t}-{d}-{pool['pool_id']}-{n + 1:03d}", red, blue)
        for pool in bracket.get("pools") or ()
        for n, (red, blue) in enumerate(combinations(pool["athletes"], 2))
    ]


def bracket_athletes(bracket: dict[str, Any]) -> list[str]:
    if bracket.get("pools"):
        return [a for pool in bracket["pools"] for a in pool["athletes"]]
    return [a for a in (bracket.get("draw") or bracket.get("seeds") or ()) if a is not None]


def add_bracket_division(
    reg: Registration, t: str, d: str, bracket: dict[str, Any], *, category: str, name: str | None = None
) -> bd.DivisionBracket:
    """Register the division (its athletes must be in ``reg.athletes`` already); returns its spec."""
    spec = bd.division_bracket(d, bracket)
    fmt = bracket["format"]
    reg.divisions.append(
        {
            "tournament_id": t,
            "division_id": d,
            "name": name or d,
            "category": category,
            "formats": ["round_robin", "elimination"] if spec.pooled else [fmt],
            "format": fmt,
            "bracket": bracket,
        }
    )
    reg.entries += [{"tournament_id": t, "division_id": d, "athlete_id": a} for a in bracket_athletes(bracket)]
    rows: list[dict[str, Any]] = [
        {"bout_id": b, "tournament_id": t, "division_id": d, "red_athlete_id": red, "blue_athlete_id": blue}
        for b, red, blue in pool_bout_rows(t, d, bracket)
    ]
    rows += [
        {"bout_id": p.bout_id, "tournament_id": t, "division_id": d, "red_athlete_id": None, "blue_athlete_id": None}
        for p in bd.project(spec, [], [], COMBAT_DEFAULT).bracket.positions
    ]
    reg.bouts += [dict(row, bout_order=n) for n, row in enumerate(rows)]
    return spec


def pool_bouts(t: str, d: str, bracket: dict[str, Any]) -> list[Bout]:
    return [Bout(b, red, blue) for b, red, blue in pool_bout_rows(t, d, bracket)]


@dataclass
class StreamRates:
    corrections: int = 3  # decided bracket bouts whose winner is flipped later
    voids: int = 1
    early: int = 1  # results for a bout whose slot is still open
    pool_corrections: int = 1  # pool results corrected after the draw (a re-draw)
    duplicate_rate: float = 0.06


@dataclass
class _Walk:
    t: str
    d: str
    spec: bd.DivisionBracket
    pools: list[Bout]
    ruleset: Ruleset
    rng: random.Random
    at: dt.datetime
    log: list[bd.AnyRevision] = field(default_factory=list)
    last: dict[str, int] = field(default_factory=dict)
    out: list[events.MatchEvent] = field(default_factory=list)

    def emit(self, rev: bd.AnyRevision, duplicate_rate: float, *, stored: bool = True) -> None:
        self.at += dt.timedelta(seconds=7)
        if isinstance(rev, BoutVoid):
            event: events.MatchEvent = events.result_voided(self.t, self.d, rev, self.at)
        elif isinstance(rev, FoughtResult):
            event = events.result_recorded(self.t, self.d, rev.result, self.at, (rev.red, rev.blue))
        else:
            event = events.result_recorded(self.t, self.d, rev, self.at)
        self.out.append(event)
        if self.rng.random() < duplicate_rate:
            self.out.append(event)  # a retry: the same event again
        if stored:
            self.log.append(rev)
            self.last[rev.bout_id] = rev.revision

    def next_revision(self, bout_id: str) -> int:
        return self.last.get(bout_id, 0) + 1

    def win(self, bout_id: str, red: str, blue: str, winner: Winner | None = None) -> FoughtResult:
        winner = winner or self.rng.choice([Winner.RED, Winner.BLUE])
        hi, lo = self.rng.randint(1, 12), self.rng.randint(0, 3)
        method = self.rng.choice(WIN_METHODS)
        score = Score(max(hi, lo + 1), lo) if winner is Winner.RED else Score(lo, max(hi, lo + 1))
        result = BoutResult(bout_id, self.next_revision(bout_id), winner, method, score, duration_s=240)
        return FoughtResult(result, red, blue)


def bracket_stream(
    rng: random.Random,
    t: str,
    d: str,
    bracket: dict[str, Any],
    *,
    rates: StreamRates | None = None,
    ruleset: Ruleset = COMBAT_DEFAULT,
    start: dt.datetime = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC),
) -> list[events.MatchEvent]:
    """The events of one division fought to its final, in the order they are produced."""
    rates = rates or StreamRates()
    budget = {"correct": rates.corrections, "void": rates.voids, "early": rates.early, "pool": rates.pool_corrections}
    walk = _Walk(t, d, bd.division_bracket(d, bracket), pool_bouts(t, d, bracket), ruleset, rng, start)
    for _ in range(40 * (len(walk.pools) + 64)):
        projection = bd.project(walk.spec, walk.pools, walk.log, ruleset)
        if not projection.drawn:
            bout = rng.choice([b for b in walk.pools if b.bout_id not in walk.last])
            walk.emit(random_result(rng, bout.bout_id, 1), rates.duplicate_rate)
            continue
        if not _step(walk, projection, budget, rates):
            break
    return walk.out


def _step(walk: _Walk, projection: bd.BracketProjection, budget: dict[str, int], rates: StreamRates) -> bool:
    """One more event of the walk; False when the division is done. About one step in six is one of
    the budgeted disturbances while any is left; the corrections left when every bout is decided are
    spent at the end (a late correction re-routes the most)."""
    rng, bouts = walk.rng, list(projection.state.bouts.values())
    ready = [
        b
        for b in bouts
        if b.status in (Status.OPEN, Status.INVALIDATED) and isinstance(b.red, str) and isinstance(b.blue, str)
    ]
    decided = [b for b in bouts if b.status is Status.DECIDED]
    waiting = [b for b in bouts if b.status is Status.WAITING]
    possible = {
        "correct": bool(decided),
        "void": bool(decided),
        "early": bool(waiting),
        "pool": projection.spec.pooled,
    }
    extra = [k for k, ok in possible.items() if ok and budget[k]]
    if extra and (rng.random() < 0.17 or not ready):
        kind = rng.choice(extra) if ready else ("correct" if "correct" in extra else rng.choice(extra))
        budget[kind] -= 1
        _disturb(walk, kind, decided, waiting, rates)
    elif ready:
        bout = rng.choice(ready)
        assert isinstance(bout.red, str) and isinstance(bout.blue, str)
        walk.emit(walk.win(bout.bout_id, bout.red, bout.blue), rates.duplicate_rate)
    else:
        return False
    return True


def _disturb(
    walk: _Walk, kind: str, decided: Sequence[BoutState], waiting: Sequence[BoutState], rates: StreamRates
) -> None:
    rng = walk.rng
    if kind == "correct":  # the other athlete won: downstream slots re-route
        bout = rng.choice(decided)
        assert bout.result is not None
        flipped = Winner.BLUE if bout.result.result.winner is Winner.RED else Winner.RED
        walk.emit(walk.win(bout.bout_id, bout.result.red, bout.result.blue, flipped), rates.duplicate_rate)
    elif kind == "void":
        bout = rng.choice(decided)
        walk.emit(BoutVoid(bout.bout_id, walk.next_revision(bout.bout_id)), rates.duplicate_rate)
    elif kind == "early":  # posted before the slots are known: dead-lettered, not stored
        bout = rng.choice(waiting)
        known = [a for a in (bout.red, bout.blue) if isinstance(a, str)]
        walk.emit(walk.win(bout.bout_id, known[0] if known else "nobody-yet", "not-drawn-yet"), 0.0, stored=False)
    else:  # a pool result corrected after the draw: the bracket may be drawn again
        fixed = rng.choice(walk.pools)
        walk.emit(random_result(rng, fixed.bout_id, walk.next_revision(fixed.bout_id)), rates.duplicate_rate)


def as_bracket_revision(event: events.ResultRecorded | events.ResultVoided) -> bd.AnyRevision:
    """The revision an event carries: a void, a result with the athletes it names, or a bare result."""
    rev = event.to_domain()
    if isinstance(event, events.ResultRecorded) and event.athletes is not None:
        return FoughtResult(rev, *event.athletes)  # type: ignore[arg-type]
    return rev


class BracketOracle:
    """One bracket division replayed in log order with the spec's rules, independently of the
    projector: a (bout, revision) seen before is a duplicate (same payload) or a conflict (first
    applied wins); a new result whose slots are not both known at its place in the log is rejected
    with §7's reason; everything else is applied."""

    def __init__(self, spec: bd.DivisionBracket, pools: Sequence[Bout], ruleset: Ruleset = COMBAT_DEFAULT) -> None:
        self.spec, self.pools, self.ruleset = spec, list(pools), ruleset
        self.applied: dict[tuple[str, int], bd.AnyRevision] = {}
        self.invalidating = 0  # applied revisions that left more fought bouts invalidated
        self._projection: bd.BracketProjection | None = None

    def offer(self, event: events.ResultRecorded | events.ResultVoided) -> str:
        """ "applied", "duplicate", "conflicting_revision", or the dead-letter reason."""
        rev = as_bracket_revision(event)
        key = (rev.bout_id, rev.revision)
        prior = self.applied.get(key)
        if prior is not None:
            return "duplicate" if prior == rev else "conflicting_revision"
        before = self.projection()
        rejected = bd.rejected(before, rev)
        if rejected is not None:
            return rejected[0]
        self.applied[key] = rev
        self._projection = None
        self.invalidating += bd.invalidated_bouts(self.projection()) > bd.invalidated_bouts(before)
        return "applied"

    def projection(self) -> bd.BracketProjection:
        if self._projection is None:
            self._projection = bd.project(self.spec, self.pools, self.applied.values(), self.ruleset)
        return self._projection

    def rows(self) -> list[StandingRow]:
        rows = bd.division_rows(self.projection(), self.ruleset)
        return sorted(rows, key=lambda r: (r.rank, r.athlete_id))

    def bout_rows(self) -> dict[str, tuple[Any, ...]]:
        """bout -> (status, red, blue, winner, counted revision, invalidated revision)."""
        return {
            r.bout_id: (
                r.status, r.red_athlete_id, r.blue_athlete_id, r.winner_athlete_id, r.counted_revision,
                r.invalidated_revision,
            )
            for r in bd.bout_rows(self.projection())
        }  # fmt: skip
