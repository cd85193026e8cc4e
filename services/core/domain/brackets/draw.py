"""The first-round draw (SPEC §7): standard seeding positions with byes to the top seeds, or an
explicit list of bracket positions, validated with every problem listed at once."""

from __future__ import annotations

from collections.abc import Sequence

from services.core.domain.brackets.errors import InvalidBracket

Draw = tuple[str | None, ...]
"""Bracket positions from the top: an athlete id, or ``None`` for a bye."""


def bracket_size(entrants: int) -> int:
    """The next power of two >= entrants (and >= 2)."""
    size = 2
    while size < entrants:
        size *= 2
    return size


def seeding_order(size: int) -> tuple[int, ...]:
    """The seed standing at each position: 1 v 16, 8 v 9, 4 v 13, 5 v 12, 2 v 15, 7 v 10, 3 v 14, 6 v 11.

    Built by doubling: each seed s of the smaller bracket meets ``2n + 1 - s`` in the bigger one, so
    seeds 1 and 2 can meet only in the final, 1-4 only from the semifinals, 1-8 from the quarterfinals.
    """
    order = [1]
    while len(order) < size:
        n = 2 * len(order)
        order = [s for seed in order for s in (seed, n + 1 - seed)]
    return tuple(order)


def _id_problems(athletes: Sequence[str | None], what: str) -> list[str]:
    problems: list[str] = []
    first: dict[str, int] = {}
    for i, athlete in enumerate(athletes, start=1):
        if athlete is None:
            continue
        if not isinstance(athlete, str) or not athlete.strip():
            problems.append(f"{what} {i}: athlete id must be a non-empty string")
            continue
        if athlete in first:
            problems.append(f"athlete {athlete!r} is at {what}s {first[athlete]} and {i}")
        else:
            first[athlete] = i
    if len(first) < 2:
        problems.append(f"a bracket needs at least two athletes (got {len(first)})")
    return problems


def draw_from_seeds(seeds: Sequence[str]) -> Draw:
    """The draw of athletes seeded in order (seeds[0] is seed 1); seeds beyond the entrants are byes,
    so the top seeds get them. Raises InvalidBracket."""
    problems = _id_problems([*seeds], "seed")
    if any(s is None for s in seeds):
        problems.append("seeds cannot contain byes (use draw for an explicit draw)")
    if problems:
        raise InvalidBracket(problems)
    return tuple(None if seed is None else seeds[seed - 1] for seed in seat_seeds(len(seeds)))


def seat_seeds(entrants: int) -> tuple[int | None, ...]:
    """The seed at each position of the smallest bracket for ``entrants``; None where a seed number
    is past the entrants (a bye), which puts the byes beside the top seeds."""
    return tuple(seed if seed <= entrants else None for seed in seeding_order(bracket_size(entrants)))


def validate_draw(positions: Sequence[str | None]) -> Draw:
    """Check an explicit draw: a power-of-two size >= 2, no athlete twice, no first-round pair of two
    byes, at least two athletes. Returns it as a Draw; raises InvalidBracket listing every problem."""
    positions = tuple(positions)
    problems: list[str] = []
    size = len(positions)
    if size < 2 or size & (size - 1):
        problems.append(f"the draw has {size} positions; it must be a power of two >= 2")
    problems += _id_problems(positions, "position")
    for i in range(0, size - 1, 2):
        if positions[i] is None and positions[i + 1] is None:
            problems.append(f"positions {i + 1} and {i + 2} are both byes (a bout of two byes)")
    if problems:
        raise InvalidBracket(problems)
    return positions
