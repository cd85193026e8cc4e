"""Standings bodies rendered ONCE per (tournament, division, version), served as bytes.

FastAPI's encoder costs ~2 ms for 50 rows (COMPONENTS.md): the hot path here never serializes.
A division's body is encoded from its response schema (services/api/standings_bodies.py) when its
version is first asked for and kept until a ``standings_changed`` notification says a newer
version exists; the LISTEN connection is the only invalidation source, so a poll never touches
the database just to validate.

``freshness_s`` is per request: it is the body's last key, so the cached bytes up to its value
take it in one concatenation (none at all in the common "caught up" case: a pre-built body).
While the projector is behind, the whole-seconds freshness is part of the (strong) ETag, because
it is part of the bytes; when caught up the ETag is exactly ``"t:d:v"``.

Renders are single-flight: concurrent requests (or 500 SSE subscribers) for a version that is
not cached share one database read. While LISTEN is down nothing is cached (renders still
coalesce), because a missed notification could otherwise serve an old version forever.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

import anyio

from services.api.conditional import Body
from services.api.standings_bodies import (
    encode_standings,
    freshness_prefix,
    sse_frame,
    standings_out,
    tournament_body,
    with_freshness,
)
from services.core.db.standings_read import DivisionMeta, DivisionStandings
from services.core.errors import NotFound
from services.core.metrics import STANDINGS_RENDERS

Key = tuple[str, str]
Loaded = TypeVar("Loaded")


def _with_staleness(etag: bytes, freshness_s: int) -> bytes:
    """While the projector is behind, the freshness seconds are part of the bytes, so of the ETag."""
    return etag if freshness_s == 0 else b'%s:s%d"' % (etag[:-1], freshness_s)


@dataclass(frozen=True, slots=True)
class RenderedStandings:
    """One division version, rendered once; everything a request needs without the database."""

    tournament_id: str
    division_id: str
    version: int
    partition: int | None
    last_event_epoch: float | None
    etag_fresh: bytes
    body_fresh: bytes
    sse_fresh: bytes
    body_prefix: bytes  # body_fresh up to the freshness_s value
    event: str = "standings"  # the SSE event name

    @classmethod
    def render(cls, data: DivisionStandings) -> RenderedStandings:
        return cls.from_body(data.meta, encode_standings(standings_out(data)))

    @classmethod
    def from_body(cls, meta: DivisionMeta, body: bytes, event: str = "standings", kind: str = "") -> RenderedStandings:
        """A division version's body encoded with ``freshness_s`` 0 as its last field. ``kind`` tells
        apart the ETags of two representations of one division (``"t:d:bracket:v"``)."""
        tag = f"{meta.tournament_id}:{meta.division_id}:{kind + ':' if kind else ''}{meta.version}"
        return cls(
            tournament_id=meta.tournament_id,
            division_id=meta.division_id,
            version=meta.version,
            partition=meta.last_partition,
            last_event_epoch=meta.last_event_at.timestamp() if meta.last_event_at else None,
            etag_fresh=f'"{tag}"'.encode(),
            body_fresh=body,
            sse_fresh=sse_frame(meta.version, body, event),
            body_prefix=freshness_prefix(body),
            event=event,
        )

    def etag_for(self, freshness_s: int) -> bytes:
        return _with_staleness(self.etag_fresh, freshness_s)

    def body(self, freshness_s: int) -> bytes:
        return self.body_fresh if freshness_s == 0 else with_freshness(self.body_prefix, freshness_s)

    def representation(self, freshness_s: int) -> tuple[bytes, Body]:
        """ETag and body for a conditional GET; a stale body is only built if it is sent (not for a 304)."""
        if freshness_s == 0:
            return self.etag_fresh, self.body_fresh
        return _with_staleness(self.etag_fresh, freshness_s), partial(with_freshness, self.body_prefix, freshness_s)

    def sse(self, freshness_s: int) -> bytes:
        return self.sse_fresh if freshness_s == 0 else sse_frame(self.version, self.body(freshness_s), self.event)


@dataclass(frozen=True, slots=True)
class RenderedTournament:
    """All divisions of a tournament: the ETag covers every division's version."""

    tournament_id: str
    divisions: tuple[RenderedStandings, ...]
    etag_fresh: bytes

    @classmethod
    def compose(cls, tournament_id: str, divisions: Sequence[RenderedStandings]) -> RenderedTournament:
        digest = hashlib.blake2b(
            "|".join(f"{d.division_id}:{d.version}" for d in divisions).encode(), digest_size=8
        ).hexdigest()
        return cls(tournament_id, tuple(divisions), f'"{tournament_id}:{len(divisions)}:{digest}"'.encode())

    def etag_for(self, freshness: Sequence[int]) -> bytes:
        return _with_staleness(self.etag_fresh, max(freshness, default=0))

    def body(self, freshness: Sequence[int]) -> bytes:
        return tournament_body(self.tournament_id, [d.body(f) for d, f in zip(self.divisions, freshness, strict=True)])


class StandingsCache(Generic[Loaded]):
    """Rendered divisions keyed by (t, d); invalidated only by change notifications.

    Everything runs on the event loop thread (notifications are posted to it), so no locks.
    ``load`` is the blocking repository call; it runs in a worker thread. ``render`` turns what it
    loaded into the cached entry (``RenderedStandings.render`` for the standings).
    """

    def __init__(
        self,
        load: Callable[[str, str], Loaded | None],
        load_division_ids: Callable[[str], list[str] | None],
        render: Callable[[Loaded], RenderedStandings],
    ) -> None:
        self._load = load
        self._render_entry = render
        self._load_division_ids = load_division_ids
        self._entries: dict[Key, RenderedStandings] = {}
        self._inflight: dict[Key, asyncio.Future[RenderedStandings]] = {}
        self._known: dict[Key, int] = {}
        self._gen: dict[Key, int] = {}
        self._global_gen = 0
        self._tournaments: dict[str, tuple[str, ...]] = {}
        self._tournament_gen: dict[str, int] = {}
        # Divisions read since their last render: re-rendered as soon as they change (refresh-ahead),
        # so the pollers that arrive after a change find the new body ready.
        self._hot: set[Key] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # strong refs: the loop keeps only weak ones
        self.live = False  # True while the LISTEN connection is up: only then are entries kept

    # -- invalidation (called on the loop by the listener) --------------------------------------

    def on_change(self, tournament_id: str, division_id: str, version: int) -> None:
        key = (tournament_id, division_id)
        if version > self._known.get(key, -1):
            self._known[key] = version
        self._gen[key] = self._gen.get(key, 0) + 1
        entry = self._entries.get(key)
        if entry is not None and entry.version < self._known[key]:
            del self._entries[key]
        elif entry is not None and version <= entry.version:
            pass  # an old or repeated notification: the cached entry is already as new
        self._inflight.pop(key, None)
        self._tournaments.pop(tournament_id, None)
        self._tournament_gen[tournament_id] = self._tournament_gen.get(tournament_id, 0) + 1
        if key in self._hot and self.live:
            self._hot.discard(key)
            self._ensure_render(key)

    def invalidate_all(self) -> None:
        self._global_gen += 1
        self._entries.clear()
        self._inflight.clear()
        self._tournaments.clear()

    def set_live(self, live: bool) -> None:
        self.live = live
        self.invalidate_all()

    # -- reads ---------------------------------------------------------------------------------

    def peek(self, tournament_id: str, division_id: str) -> RenderedStandings | None:
        """The current version if cached (no I/O)."""
        key = (tournament_id, division_id)
        self._hot.add(key)
        return self._entries.get(key)

    async def get(self, tournament_id: str, division_id: str) -> RenderedStandings:
        key = (tournament_id, division_id)
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        # shield: one impatient client must not cancel the render others wait for
        return await asyncio.shield(self._ensure_render(key))

    def _ensure_render(self, key: Key) -> asyncio.Future[RenderedStandings]:
        future = self._inflight.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            self._inflight[key] = future
            task = loop.create_task(self._render(key, future))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return future

    async def _render(self, key: Key, future: asyncio.Future[RenderedStandings]) -> None:
        gen, global_gen = self._gen.get(key, 0), self._global_gen
        try:
            data = await anyio.to_thread.run_sync(self._load, *key)
            if data is None:
                raise NotFound(f"division {key[1]!r} of tournament {key[0]!r} does not exist")
            entry = self._render_entry(data)
            STANDINGS_RENDERS.inc()
        except BaseException as exc:
            if self._inflight.get(key) is future:
                del self._inflight[key]
            if not future.done():
                future.set_exception(exc)
                future.exception()  # mark retrieved: nobody may be waiting any more
            if not isinstance(exc, Exception):
                raise
            return
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if (
            self.live
            and gen == self._gen.get(key, 0)
            and global_gen == self._global_gen
            and entry.version >= self._known.get(key, -1)
        ):
            self._entries[key] = entry
            self._known[key] = max(entry.version, self._known.get(key, -1))
        if not future.done():
            future.set_result(entry)

    async def get_tournament(self, tournament_id: str) -> RenderedTournament:
        division_ids: tuple[str, ...] | None = self._tournaments.get(tournament_id)
        if division_ids is None:
            gen, global_gen = self._tournament_gen.get(tournament_id, 0), self._global_gen
            loaded = await anyio.to_thread.run_sync(self._load_division_ids, tournament_id)
            if loaded is None:
                raise NotFound(f"tournament {tournament_id!r} does not exist")
            division_ids = tuple(loaded)
            if self.live and gen == self._tournament_gen.get(tournament_id, 0) and global_gen == self._global_gen:
                self._tournaments[tournament_id] = division_ids
        divisions = [await self.get(tournament_id, d) for d in division_ids]
        return RenderedTournament.compose(tournament_id, divisions)

    def forget_tournament(self, tournament_id: str) -> None:
        """Registration changed the division list (admin API): rebuild it on the next read."""
        self._tournaments.pop(tournament_id, None)
        self._tournament_gen[tournament_id] = self._tournament_gen.get(tournament_id, 0) + 1
