"""The intake's reads from PostgreSQL: bouts, their tournament's ruleset, divisions and applied revisions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.orm import Session

from services.core.db import registration
from services.core.db.registration import BoutInfo


class AppliedRevision(NamedTuple):
    """A revision the projector has applied (``results`` row): kind ``result`` or ``void``."""

    revision: int
    kind: str
    payload: dict[str, Any]


class BracketSlots(NamedTuple):
    """A bracket bout's ``bracket_bouts`` row as the projector last wrote it: who stands in its slots."""

    status: str
    red: str | None
    blue: str | None
    waiting_for: str | None


class PostTarget(NamedTuple):
    """What a post to a bout is checked against: the bout, its tournament's ruleset, applied
    revisions, and for a bracket bout its slots (None for a round-robin bout)."""

    bout: BoutInfo
    ruleset: str
    applied: list[AppliedRevision]
    slots: BracketSlots | None = None

    @property
    def in_bracket(self) -> bool:
        """A bracket position: its athletes are bracket state, not fixed by registration."""
        return self.slots is not None or self.bout.red is None


_BOUT_AND_APPLIED = """
    SELECT b.tournament_id, b.division_id, b.red_athlete_id, b.blue_athlete_id, t.ruleset,
           bb.status, bb.red_athlete_id, bb.blue_athlete_id, bb.waiting_for,
           r.revision, r.kind, r.payload
    FROM bouts b
    JOIN tournaments t ON t.tournament_id = b.tournament_id
    LEFT JOIN bracket_bouts bb ON bb.bout_id = b.bout_id
    LEFT JOIN results r ON r.bout_id = b.bout_id AND r.revision >= %(revision)s
    WHERE b.bout_id = %(bout)s
    ORDER BY r.revision
"""


class PooledPostTargets:
    """What each post is checked against, read on the event loop from a psycopg pool.

    This read is on every referee post, so it is one constant statement (prepared by psycopg after
    a few uses) on a pooled async connection: no worker-thread hand-off, no ORM session, no ping
    per checkout (a round-robin bout has no ``bracket_bouts`` row: that join is one primary-key probe).
    """

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def target(self, bout_id: str, revision: int) -> PostTarget | None:
        """The bout (None if unknown), its tournament's ruleset name, its applied revisions at or
        above ``revision`` (what a new post at ``revision`` can conflict with) and its bracket slots."""
        params = {"bout": bout_id, "revision": revision}
        try:
            return await self._read(bout_id, params)
        except PoolTimeout:
            raise
        except psycopg.OperationalError:
            # A connection that died while idle (PostgreSQL restarted) fails on first use and the pool
            # drops it: one retry on another. A second failure means the database is down (a 503).
            return await self._read(bout_id, params)

    async def _read(self, bout_id: str, params: dict[str, Any]) -> PostTarget | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_BOUT_AND_APPLIED, params)
            return post_target(bout_id, await cursor.fetchall())


def post_target(bout_id: str, rows: Sequence[Sequence[Any]]) -> PostTarget | None:
    """The :class:`PostTarget` of ``_BOUT_AND_APPLIED``'s rows (None: no such bout)."""
    if not rows:
        return None
    t, d, red, blue, ruleset, status, slot_red, slot_blue, waiting_for = rows[0][:9]
    applied = [AppliedRevision(int(r), str(k), dict(p or {})) for *_, r, k, p in rows if r is not None]
    slots = None if status is None else BracketSlots(str(status), slot_red, slot_blue, waiting_for)
    return PostTarget(BoutInfo(bout_id, t, d, red, blue), str(ruleset), applied, slots)


def tournament_exists(session: Session, tournament_id: str) -> bool:
    return registration.get_tournament(session, tournament_id) is not None


def division_ids(session: Session, tournament_id: str) -> list[str]:
    return [d.division_id for d in registration.tournament_divisions(session, tournament_id)]
