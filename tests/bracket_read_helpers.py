"""Bracket divisions for the read API's tests, seeded the way registration and the projector leave them.

A bracket division is a ``divisions`` row with its ``format`` and ``bracket`` description, its
entries and one ``bouts`` row per bracket position (ids from the pure domain; pool bouts of
``pools_then_elimination`` with fixed athletes). A result is what one projector transaction stores:
the ``results`` row (carrying the two athletes it was fought between), the placing rows
(``standings_rows``, rank = placing) from the pure domain, a version bump and ``NOTIFY``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict
from itertools import combinations
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from services.core.db.bracket_read import load_division_bracket
from services.core.db.schema import BoutRow, Division, DivisionEntry, StandingsRow
from services.core.domain.bracket_division import division_bracket, division_rows, project
from services.core.domain.ruleset import COMBAT_DEFAULT
from tests.read_api_helpers import StoredResult, bump_and_notify


def division_athletes(engine: Engine, t: str, d: str) -> list[str]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(DivisionEntry.athlete_id)
                .where(DivisionEntry.tournament_id == t, DivisionEntry.division_id == d)
                .order_by(DivisionEntry.athlete_id)
            )
        )


def pool_bouts(pools: Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Every pairing of each pool: (bout id, red, blue)."""
    return [
        (f"pool-{pool['pool_id'].lower()}-{i + 1}", red, blue)
        for pool in pools
        for i, (red, blue) in enumerate(combinations(pool["athletes"], 2))
    ]


def seed_bracket_division(engine: Engine, t: str, d: str, athletes: Sequence[str], bracket: dict[str, Any]) -> int:
    """A bracket division of existing athletes; returns its version. Bouts are on mat 1 in
    dependency order after the pool bouts (the order a mat calls them)."""
    spec = division_bracket(d, bracket)
    fixed = pool_bouts(bracket.get("pools") or [])
    positions = project(spec, [], [], COMBAT_DEFAULT).bracket.positions
    with Session(engine) as session, session.begin():
        session.add(
            Division(
                tournament_id=t,
                division_id=d,
                name=f"Bracket {d}",
                category=d,
                formats=[bracket["format"]],
                format=bracket["format"],
                bracket=bracket,
            )
        )
        session.flush()
        session.add_all(DivisionEntry(tournament_id=t, division_id=d, athlete_id=a) for a in athletes)
        rows = [(f"{d}-{b}", red, blue) for b, red, blue in fixed] + [(p.bout_id, None, None) for p in positions]
        session.add_all(
            BoutRow(
                bout_id=b, tournament_id=t, division_id=d, mat=1, bout_order=i + 1, red_athlete_id=r, blue_athlete_id=bl
            )
            for i, (b, r, bl) in enumerate(rows)
        )
        session.flush()
        return bump_and_notify(session, t, d)


def payload(winner: str, red: str | None = None, blue: str | None = None, method: str = "ko") -> dict[str, Any]:
    """A result won by ``winner`` (a colour), fought between ``red`` and ``blue`` (omitted for a pool bout)."""
    score = {"red": 5, "blue": 0} if winner == "red" else {"red": 0, "blue": 5}
    body: dict[str, Any] = {"winner": winner, "method": method, "score": score}
    if red is not None and blue is not None:
        body.update(red_athlete_id=red, blue_athlete_id=blue)
    return body


def record(
    engine: Engine,
    t: str,
    d: str,
    results: Sequence[tuple[str, int, str, dict[str, Any]]],
    offset: int,
    *,
    partition: int = 0,
) -> int:
    """Store (bout id, revision, kind, payload) revisions from ``offset`` on, in one transaction, with
    the division's placing rows recomputed; returns the new version."""
    at = dt.datetime.now(dt.UTC)
    with Session(engine) as session, session.begin():
        session.add_all(
            StoredResult(bout_id, revision, kind, body, offset + i).row(at=at, partition=partition)
            for i, (bout_id, revision, kind, body) in enumerate(results)
        )
        session.flush()
        view = load_division_bracket(session, t, d)
        assert view is not None
        session.execute(delete(StandingsRow).where(StandingsRow.tournament_id == t, StandingsRow.division_id == d))
        for row in division_rows(view.projection, COMBAT_DEFAULT):
            session.add(StandingsRow(tournament_id=t, division_id=d, previous_rank=None, **asdict(row)))
        session.flush()
        return bump_and_notify(
            session, t, d, at=at, partition=partition, offset=offset + len(results) - 1 if results else None
        )


def current_slots(engine: Engine, t: str, d: str, bout_id: str) -> tuple[str, str]:
    """The two athletes now in a bout's slots (what the intake fills a post with)."""
    with Session(engine) as session:
        view = load_division_bracket(session, t, d)
    assert view is not None
    bout = view.projection.state[bout_id]
    assert isinstance(bout.red, str) and isinstance(bout.blue, str), f"{bout_id} is not ready: {bout}"
    return bout.red, bout.blue


def win(engine: Engine, t: str, d: str, bout_id: str, side: str, offset: int, revision: int = 1) -> int:
    """The athlete in ``side`` wins ``bout_id`` as its slots stand now."""
    red, blue = current_slots(engine, t, d, bout_id)
    return record(engine, t, d, [(bout_id, revision, "result", payload(side, red, blue))], offset)
