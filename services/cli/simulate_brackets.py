"""The bracket part of ``standings simulate`` (SPEC §7): bracket bouts are posted in the order
their mat calls them, and only once both slots are known.

Who stands in a bracket bout's slots is bracket state, written by the projector into
``bracket_bouts`` after the results feeding it are applied, so the simulation reads that table
(like the rest of the plan, from PostgreSQL) and posts the ``open`` positions it has not posted
yet, lowest ``bout_order`` first, then waits for the projector to open the next ones. The body is
the round robin's (the intake fills the athletes from the slots); only deciding results are
posted (a draw or no contest decides nothing in a bracket), and no correction or void, which
would re-route the bracket under the referees' feet. A 409 (a slot not open yet at the intake) is
retried on a later pass; the phase ends when no position is open or waiting, or when nothing has
moved for ``idle_timeout_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from services.core.db.schema import BoutRow, BracketBout, ResultRow, Tournament

MAX_TRIES = 5
Post = Callable[[str, dict[str, Any]], str]


@dataclass(frozen=True, slots=True)
class BracketSlot:
    tournament_id: str
    division_id: str
    bout_id: str
    status: str
    revision: int  # highest revision stored (0: none)


def bracket_positions(engine: Engine, tournament_id: str | None) -> list[BracketSlot]:
    """Every bracket position of the unfinalized tournaments, in mat order."""
    applied = (
        select(ResultRow.bout_id, func.max(ResultRow.revision).label("revision")).group_by(ResultRow.bout_id).subquery()
    )
    stmt = (
        select(
            BracketBout.tournament_id,
            BracketBout.division_id,
            BracketBout.bout_id,
            BracketBout.status,
            applied.c.revision,
        )
        .join(BoutRow, BoutRow.bout_id == BracketBout.bout_id)
        .join(Tournament, Tournament.tournament_id == BracketBout.tournament_id)
        .outerjoin(applied, applied.c.bout_id == BracketBout.bout_id)
        .where(Tournament.status != "finalized")
        .order_by(BoutRow.bout_order, BracketBout.tournament_id, BracketBout.division_id, BracketBout.bout_id)
    )
    if tournament_id is not None:
        stmt = stmt.where(BracketBout.tournament_id == tournament_id)
    with Session(engine) as session:
        return [BracketSlot(t, d, b, s, r or 0) for t, d, b, s, r in session.execute(stmt)]


def deciding_result(draw: Callable[[int], dict[str, Any]], revision: int) -> dict[str, Any]:
    """A result with a winner (``draw`` is the simulation's random result for a revision)."""
    while True:
        body = draw(revision)
        if body["winner"] in ("red", "blue"):
            return body


def post_brackets(
    engine: Engine,
    tournament_id: str | None,
    post: Post,
    result: Callable[[int], dict[str, Any]],
    wait: Callable[[float], bool],
    *,
    idle_timeout_s: float = 30.0,
    poll_s: float = 0.2,
) -> int:
    """Post every bracket bout as it opens; returns how many results were accepted. ``post`` is
    the simulation's poster (path, body) -> outcome, ``wait`` returns False once stopped."""
    accepted: set[str] = set()
    tries: dict[str, int] = {}
    idle_since = time.monotonic()
    while True:
        positions = bracket_positions(engine, tournament_id)
        due = [
            p
            for p in positions
            if p.status == "open" and p.bout_id not in accepted and tries.get(p.bout_id, 0) < MAX_TRIES
        ]
        if not any(p.status in ("open", "waiting") for p in positions):
            return len(accepted)
        for slot in due:
            tries[slot.bout_id] = tries.get(slot.bout_id, 0) + 1
            path = f"/v1/tournaments/{slot.tournament_id}/bouts/{slot.bout_id}/results"
            if post(path, deciding_result(result, slot.revision + 1)) == "accepted":
                accepted.add(slot.bout_id)
                idle_since = time.monotonic()
        if time.monotonic() - idle_since > idle_timeout_s or not wait(poll_s):
            return len(accepted)
