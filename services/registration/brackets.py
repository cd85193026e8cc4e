"""A bracket division of the registration file (SPEC §7): its validation against the pure bracket
domain, the stored description (``divisions.bracket``) and the bouts it schedules.

Every bracket rule lives in ``services.core.domain.brackets`` (``format_from_dict``,
``draw_from_seeds``, ``validate_draw``, ``draw_from_pools``, ``build_bracket``); this module only
maps the file's fields onto it and adds what is the file's own business: which fields go with
which format, that the entries are the bracket's athletes, the size of a pool, and the bouts.

- ``elimination``: ``seeds`` (ordered) or ``draw`` (positions, ``null`` for a bye). One bout per
  bracket position, ids from ``build_bracket`` (``{d}-r1-b1`` …, ``{d}-final``), athletes NULL.
- ``pools_then_elimination``: ``pools``; each pool fights a round robin (fixed athletes, ids
  ``{t}-{d}-{pool_id}-{nnn}``, the pools interleaved so they progress together), then the bracket
  of ``pools × advance`` qualifiers (size the next power of two) is drawn from the pools' standings.
- Every bout of a bracket division is on the division's ``mat`` (default 1), in the order the mat
  calls them: pool bouts, then the main rounds before the final (first round first), the
  repechage, the bronze bouts, the final.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.core.domain.brackets import (
    Bracket,
    BracketFormat,
    Draw,
    FormatKind,
    InvalidBracket,
    Phase,
    Position,
    build_bracket,
    draw_from_pools,
    draw_from_seeds,
    format_from_dict,
    validate_draw,
)

if TYPE_CHECKING:
    from services.registration.model import DivisionBody, DivisionIn

BRACKET_FORMATS = frozenset(kind.value for kind in FormatKind)
# Fields that only a bracket division may give, and the ones only round robin may.
BRACKET_FIELDS = ("repechage", "third_place", "advance", "seeds", "draw", "pools", "mat")
FORMAT_FIELDS = ("repechage", "third_place", "advance")
DEFAULT_MAT = 1
MIN_POOL = 2


@dataclass(frozen=True, slots=True)
class ScheduledBout:
    """A bout a file schedules; ``red``/``blue`` are None for a bracket position (bracket state)."""

    bout_id: str
    red: str | None
    blue: str | None
    mat: int
    order: int


@dataclass(frozen=True, slots=True)
class BracketPlan:
    """What a valid bracket division writes: ``divisions.bracket``, its entries and its bouts."""

    document: dict[str, Any]
    entrants: list[str]
    bouts: list[ScheduledBout]


def bracket_athletes(division: DivisionBody) -> list[str]:
    """The athletes the seeds, draw or pools name, in file order (the division's entries)."""
    named: list[str | None] = [*(division.seeds or ()), *(division.draw or ())]
    named += [a for pool in division.pools or () for a in pool.athletes]
    return list(dict.fromkeys(a for a in named if a is not None))


def _format(division: DivisionIn, problems: list[str]) -> BracketFormat | None:
    data: dict[str, Any] = {"format": division.format}
    data.update({k: getattr(division, k) for k in FORMAT_FIELDS if getattr(division, k) is not None})
    try:
        return format_from_dict(data)
    except InvalidBracket as exc:
        problems.extend(exc.problems)
        return None


def _elimination_draw(division: DivisionIn, problems: list[str]) -> Draw | None:
    if division.pools is not None:
        problems.append("pools apply only to format pools_then_elimination")
    if (division.seeds is None) == (division.draw is None):
        problems.append("give either seeds (athletes in seed order) or draw (bracket positions, null for a bye)")
        return None
    try:
        if division.seeds is not None:
            return draw_from_seeds(division.seeds)
        return validate_draw(division.draw or ())
    except InvalidBracket as exc:
        problems.extend(f"{'seeds' if division.seeds is not None else 'draw'}: {p}" for p in exc.problems)
        return None


def _pools_draw(division: DivisionIn, advance: int, problems: list[str]) -> Draw | None:
    """The stand-in draw of the pools in registration order: it fixes the bracket's size (the
    real draw comes from the pools' standings once every pool bout is decided)."""
    for field in ("seeds", "draw"):
        if getattr(division, field) is not None:
            problems.append(f"{field} applies only to format elimination (pools_then_elimination draws from the pools)")
    if not division.pools:
        problems.append("pools are required for format pools_then_elimination")
        return None
    ids = [p.pool_id for p in division.pools]
    problems.extend(f"pool {p}: duplicate pool_id" for p in sorted({p for p in ids if ids.count(p) > 1}))
    for pool in division.pools:
        if len(set(pool.athletes)) != len(pool.athletes):
            problems.append(f"pool {pool.pool_id}: an athlete is in the pool twice")
        if len(pool.athletes) < max(MIN_POOL, advance):
            problems.append(
                f"pool {pool.pool_id}: {len(pool.athletes)} athlete(s); a pool needs at least "
                f"{max(MIN_POOL, advance)} (two to fight, and advance {advance} to send to the bracket)"
            )
    if advance > max(len(pool.athletes) for pool in division.pools):
        return None  # no pool can send that many: already a problem of each pool
    try:
        return draw_from_pools([pool.athletes for pool in division.pools], advance)
    except InvalidBracket as exc:
        problems.extend(f"pools: {p}" for p in exc.problems)
        return None


def _entry_problems(division: DivisionIn, drawn: list[str]) -> list[str]:
    """``athletes``, when given, must be exactly the bracket's athletes."""
    if division.athletes is None:
        return []
    source = "pools" if division.format == FormatKind.POOLS_THEN_ELIMINATION else "seeds/draw"
    entered = set(division.athletes)
    missing = [a for a in drawn if a not in entered]
    extra = [a for a in division.athletes if a not in set(drawn)]
    return [f"athlete {a} is in the {source} but not in athletes" for a in missing] + [
        f"athlete {a} is entered but not in the {source} (every entrant needs a place in the bracket)" for a in extra
    ]


def bracket_plan(tournament_id: str, division: DivisionIn) -> tuple[BracketPlan | None, list[str]]:
    """Validate a bracket division; the plan when it has no problem, else every problem."""
    problems: list[str] = []
    if isinstance(division.bouts, list):
        problems.append("bouts cannot be given for a bracket division: they come from the draw (and the pools)")
    fmt = _format(division, problems)
    if division.format == FormatKind.ELIMINATION:
        draw = _elimination_draw(division, problems)
    else:
        draw = _pools_draw(division, fmt.advance if fmt else 2, problems)
    drawn = bracket_athletes(division)
    problems += _entry_problems(division, drawn)
    if problems or fmt is None or draw is None:
        return None, problems
    bracket = build_bracket(division.division_id, fmt, draw)
    mat = division.mat or DEFAULT_MAT
    pool_bouts = _pool_bouts(tournament_id, division, mat)
    bouts = [*pool_bouts, *_bracket_bouts(bracket, mat, start=len(pool_bouts) + 1)]
    problems += [
        f"bout id {b.bout_id!r} is longer than 64 characters; use a shorter id" for b in bouts if len(b.bout_id) > 64
    ]
    document = {
        "format": fmt.kind.value,
        "repechage": fmt.repechage.value,
        "third_place": fmt.third_place.value,
        "advance": fmt.advance,
        "seeds": list(division.seeds) if division.seeds is not None else None,
        "draw": list(draw) if fmt.kind is FormatKind.ELIMINATION else None,
        "pools": [p.model_dump() for p in division.pools] if division.pools else None,
    }
    return (None if problems else BracketPlan(document, drawn, bouts)), problems


def _pool_bouts(tournament_id: str, division: DivisionIn, mat: int) -> list[ScheduledBout]:
    """Each pool's round robin, the pools interleaved: A-001, B-001, A-002, B-002, …"""
    per_pool = [
        [
            (f"{tournament_id}-{division.division_id}-{pool.pool_id}-{i:03d}", red, blue)
            for i, (red, blue) in enumerate(itertools.combinations(pool.athletes, 2), start=1)
        ]
        for pool in division.pools or ()
    ]
    interleaved = [b for step in itertools.zip_longest(*per_pool) for b in step if b is not None]
    return [ScheduledBout(b, red, blue, mat, n) for n, (b, red, blue) in enumerate(interleaved, start=1)]


_PHASE_ORDER = {Phase.MAIN: 0, Phase.REPECHAGE: 1, Phase.BRONZE: 2, Phase.FINAL: 3}


def mat_order(positions: Sequence[Position]) -> list[Position]:
    """The bracket's positions in the order a mat calls them: main rounds before the final (first
    round first), then the repechage, the bronze bouts and the final; within a round top half first.
    Every position comes after the ones that feed it."""
    return sorted(positions, key=lambda p: (_PHASE_ORDER[p.phase], p.round, p.half != "top", p.index))


def _bracket_bouts(bracket: Bracket, mat: int, start: int) -> list[ScheduledBout]:
    return [ScheduledBout(p.bout_id, None, None, mat, n) for n, p in enumerate(mat_order(bracket.positions), start)]


def stored_formats(division: DivisionIn) -> list[str]:
    """``divisions.formats`` (kept for compatibility): the legacy list as the file gave it, else
    ``[format]``. The column is ``varchar(16)[]``: ``pools_then_elimination`` is stored as its two
    phases, ``["round_robin", "elimination"]``."""
    if division.format is None:
        return list(division.formats)
    if division.format == FormatKind.POOLS_THEN_ELIMINATION:
        return ["round_robin", "elimination"]
    return [division.format]
