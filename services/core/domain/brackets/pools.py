"""pools_then_elimination (SPEC §7): the bracket drawn from the pools' top athletes, and the
placings of the athletes who did not leave their pool."""

from __future__ import annotations

from collections.abc import Sequence

from services.core.domain.brackets.draw import Draw, bracket_size, seeding_order
from services.core.domain.brackets.errors import InvalidBracket
from services.core.domain.brackets.placings import Placing
from services.core.domain.standings import StandingRow


def _meeting_round(a: int, b: int) -> int:
    """The main round in which draw positions a and b can meet (1 = first round)."""
    return (a ^ b).bit_length()


def _pool_problems(pools: Sequence[Sequence[str]], advance: int) -> list[str]:
    problems: list[str] = []
    if advance < 1:
        problems.append(f"advance must be >= 1 (got {advance})")
    seen: dict[str, int] = {}
    for p, pool in enumerate(pools, start=1):
        for athlete in pool:
            if athlete in seen:
                problems.append(f"athlete {athlete!r} is in pools {seen[athlete]} and {p}")
            seen.setdefault(athlete, p)
    if sum(min(len(pool), max(advance, 0)) for pool in pools) < 2:
        problems.append("the pools send fewer than two athletes to the bracket")
    return problems


SEARCH_BUDGET = 20_000
Seating = list[tuple[int, int, str]]
"""(draw position, pool index, athlete) of every qualifier."""


def _seat(ranks: list[list[tuple[int, str]]], size: int, avoid_clash: bool) -> Seating | None:
    """Seat the qualifiers seed by seed. Each seed goes to the pool (among those still to place an
    athlete of that rank) whose athletes already drawn would meet it latest, ties to the lower pool
    (so the winners, the first rank, take seeds 1..P in pool order).
    ``avoid_clash``: skip a pool already in the seed's quarter, backtracking when that leads nowhere
    (None when no such seating is found within SEARCH_BUDGET steps)."""
    seat = {seed: position for position, seed in enumerate(seeding_order(size))}
    span = max(size // 4, 1)
    placed: Seating = []
    taken: dict[int, list[int]] = {}
    budget = [SEARCH_BUDGET]

    def latest(at: int, pool: int) -> tuple[int, int]:
        return (min((_meeting_round(at, s) for s in taken.get(pool, [])), default=size), -pool)

    def visit(group: int, waiting: list[tuple[int, str]]) -> bool:
        if not waiting:
            return group + 1 == len(ranks) or visit(group + 1, list(ranks[group + 1]))
        budget[0] -= 1
        at = seat[len(placed) + 1]
        picks = sorted(waiting, key=lambda q: latest(at, q[0]), reverse=True)
        # The pool winners take seeds 1..P in pool order, always: the winners of pools 1 and 2 must
        # stand in opposite halves (SPEC §7); only later ranks may move to keep a pool out of a quarter.
        for pick in picks[:1] if group == 0 else picks:
            if budget[0] < 0 or (avoid_clash and any(s // span == at // span for s in taken.get(pick[0], []))):
                continue
            placed.append((at, *pick))
            taken.setdefault(pick[0], []).append(at)
            if visit(group, [w for w in waiting if w != pick]):
                return True
            placed.pop()
            taken[pick[0]].pop()
        return False

    return placed if visit(0, list(ranks[0])) else None


def draw_from_pools(pools: Sequence[Sequence[str]], advance: int) -> Draw:
    """The draw of each pool's top ``advance`` athletes (each pool given in rank order).

    Seeds go by pool rank, then pool order: the pool winners take seeds 1..P, so the winners of
    pools 1 and 2 are in opposite halves and the winners spread over the quarters; the runners-up
    take the next seeds, and so on (see ``_seat``). A seating with no two athletes of a pool in one
    quarter is used when one exists (searched within a budget), else the plain one. Seeds past the
    qualifiers are byes, so the top seeds get them. Raises InvalidBracket.
    """
    problems = _pool_problems(pools, advance)
    if problems:
        raise InvalidBracket(problems)
    ranks = [[(p, pool[k]) for p, pool in enumerate(pools) if k < len(pool)] for k in range(advance)]
    ranks = [group for group in ranks if group]
    size = bracket_size(sum(len(group) for group in ranks))
    seating = _seat(ranks, size, avoid_clash=True) or _seat(ranks, size, avoid_clash=False) or []
    drawn: list[str | None] = [None] * size
    for position, _, athlete in seating:
        drawn[position] = athlete
    return tuple(drawn)


def _order_key(row: StandingRow) -> tuple[int, int, int, int, int, int]:
    """Pool rank, then §3's tie-breaks that apply across pools (no bout between them)."""
    return (row.rank, -row.wins, -row.points, -row.finishes, -row.tp_for, row.tp_against)


def pool_placings(pools: Sequence[Sequence[StandingRow]], advance: int, bracket_size_: int) -> tuple[Placing, ...]:
    """Placings of the athletes who did not leave their pool (each pool's rows past ``advance``):
    after every bracket athlete (from ``bracket_size_ + 1``), by pool rank then wins, classification
    points, finishes, technical points for, fewer against; tied through those, they share the
    placing (listed by athlete id). Decided: the pools are over once the bracket is drawn."""
    rows = sorted((row for pool in pools for row in pool[advance:]), key=lambda r: (_order_key(r), r.athlete_id))
    out: list[Placing] = []
    for i, row in enumerate(rows):
        shared = bool(out) and _order_key(rows[i - 1]) == _order_key(row)
        place = out[-1].place if shared else bracket_size_ + 1 + i
        out.append(Placing(place, row.athlete_id, True))
    return tuple(out)
