"""How a hand-worked bracket table is written and checked.

A case gives the format, the seeds (or the pools), the draw it expects, every position's slots
before any result, then the results one by one with the slots each one changes, and the final
placings. Positions are written without the ``d-`` division prefix, as ``"red blue"`` with ``?`` for
a slot not determined yet and ``-`` for a bye; ``" >X"`` marks a decided bout won by X and ``" !"`` a
stored result that no longer counts (invalidated). A step posts the next revision of a bout, fought
between the two athletes the expected table shows in its slots at that moment (as the intake fills
them): a winner's id decides it (the helper marks it ``>X``), ``draw`` and ``void`` change only
what the step's delta says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from services.core.domain.brackets import (
    BoutState,
    BracketFormat,
    BracketRevision,
    BracketState,
    FoughtResult,
    Status,
    Vacancy,
    bracket_state,
    build_bracket,
    draw_from_pools,
    draw_from_seeds,
    placings,
    pool_placings,
)
from services.core.domain.results import BoutResult, BoutVoid, Method, Score, Winner
from services.core.domain.standings import StandingRow

DIVISION = "d"
WAIT = "? ?"

# (bout, outcome, slots this result changes besides the bout itself)
Step = tuple[str, str, Mapping[str, str]]
# (athlete, pool rank, wins, classification points, finishes, tp for, tp against)
PoolRow = tuple[str, int, int, int, int, int, int]


@dataclass(frozen=True)
class Case:
    name: str
    format: BracketFormat
    draw: str
    initial: Mapping[str, str]
    steps: Sequence[Step]
    placings: Mapping[int, str]
    seeds: Sequence[str] = ()
    pools: Sequence[Sequence[PoolRow]] = field(default_factory=tuple)


def _slot(slot: str | Vacancy) -> str:
    if slot is Vacancy.BYE:
        return "-"
    if slot is Vacancy.WAITING:
        return "?"
    return str(slot)


def render(bout: BoutState) -> str:
    text = f"{_slot(bout.red)} {_slot(bout.blue)}"
    if bout.status is Status.DECIDED:
        text += f" >{_slot(bout.winner)}"
    if bout.invalidated:
        text += " !"
    _check_status(bout, text)
    return text


def _check_status(bout: BoutState, text: str) -> None:
    """The status agrees with the rendered slots (so the tables check statuses too)."""
    slots = text.split()[:2]
    if "-" in slots:
        assert bout.status is Status.BYE, text
    elif bout.invalidated:
        assert bout.status is Status.INVALIDATED, text
    elif "?" in slots:
        assert bout.status is Status.WAITING, text
    else:
        assert bout.status in (Status.OPEN, Status.DECIDED), text


def snapshot(state: BracketState) -> dict[str, str]:
    return {bout_id.removeprefix(f"{DIVISION}-"): render(b) for bout_id, b in state.bouts.items()}


def revision(bout: str, number: int, outcome: str, red: str, blue: str) -> BracketRevision:
    bout_id = f"{DIVISION}-{bout}"
    if outcome == "void":
        return BoutVoid(bout_id, number)
    if outcome == "draw":
        result = BoutResult(bout_id, number, Winner.DRAW, Method.DRAW, Score(1, 1))
    else:
        assert outcome in (red, blue), f"{bout}: {outcome} is not one of {red} {blue}"
        winner = Winner.RED if outcome == red else Winner.BLUE
        result = BoutResult(bout_id, number, winner, Method.KO, Score(0, 0))
    return FoughtResult(result, red, blue)


def _draw(case: Case) -> tuple[str | None, ...]:
    if case.pools:
        return draw_from_pools([[row[0] for row in pool] for pool in case.pools], case.format.advance)
    return draw_from_seeds(list(case.seeds))


def _pool_rows(case: Case) -> list[list[StandingRow]]:
    return [
        [StandingRow(a, rank, 0, w, 0, 0, p, f, tf, ta, False) for a, rank, w, p, f, tf, ta in pool]
        for pool in case.pools
    ]


def replay(case: Case) -> tuple[BracketState, list[BracketRevision]]:
    """Check the draw and every slot after each step; return the final state and the revisions."""
    draw = _draw(case)
    assert " ".join(a or "-" for a in draw) == case.draw, "draw"
    bracket = build_bracket(DIVISION, case.format, draw)
    expected = dict(case.initial)
    assert snapshot(bracket_state(bracket, [])) == expected, "before any result"
    posted: dict[str, int] = {}
    revisions: list[BracketRevision] = []
    state = bracket_state(bracket, [])
    for n, (bout, outcome, delta) in enumerate(case.steps, start=1):
        red, blue = expected[bout].split()[:2]
        posted[bout] = posted.get(bout, 0) + 1
        revisions.append(revision(bout, posted[bout], outcome, red, blue))
        if outcome not in ("draw", "void"):
            expected[bout] = f"{red} {blue} >{outcome}"
        expected.update(delta)
        state = bracket_state(bracket, revisions)
        assert snapshot(state) == expected, f"after step {n} ({bout} {outcome})"
    return state, revisions


def check_case(case: Case) -> None:
    state, _ = replay(case)
    got = list(placings(state))
    assert all(p.decided for p in got), "every placing is decided at the end"
    if case.pools:
        got += pool_placings(_pool_rows(case), case.format.advance, state.bracket.size)
    by_place: dict[int, list[str]] = {}
    for p in got:
        by_place.setdefault(p.place, []).append(p.athlete_id)
    assert {place: " ".join(sorted(a)) for place, a in by_place.items()} == dict(case.placings), "placings"
