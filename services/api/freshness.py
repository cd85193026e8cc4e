"""How fresh is a division's table? Derived from the projector's own reports, polled once a second.

Definition (``freshness_s`` in every standings body):

* ``0`` when the projector member that owns the division's partition reported lag 0 for it in
  its last heartbeat and that heartbeat is recent; also ``0`` when no projector member is
  registered at all or the division has never had an event (nothing to be behind on).
* otherwise — the owner reports unprocessed messages, its heartbeat is older than
  ``api.projector_heartbeat_stale_s``, or no live member owns the partition — the whole seconds
  since the division's last applied event (``divisions.last_event_at``), i.e. how old the newest
  thing on screen may be while newer events wait. It is an upper bound: the partition's lag may
  belong to other divisions sharing it.

Integer seconds on purpose: the value is part of the representation, so it is part of the ETag
while behind, and whole seconds bound the churn to one new validator per second.

The figures come from ``consumer_members`` (heartbeat, assigned partitions, lag) read by one
background task per process every ``api.lag_poll_s`` seconds, never per request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.api.poller import Poller
from services.core.db.standings_read import MemberLag, projector_members


@dataclass(frozen=True, slots=True)
class PartitionState:
    lag: int
    heartbeat_epoch: float


@dataclass(slots=True)
class LagSnapshot:
    """The last projector report per partition (the freshest member wins when two claim one)."""

    any_member: bool = False
    partitions: dict[int, PartitionState] = field(default_factory=dict)
    taken_epoch: float = 0.0

    @classmethod
    def from_members(cls, members: list[MemberLag], now: float) -> LagSnapshot:
        parts: dict[int, PartitionState] = {}
        for m in members:
            hb = m.heartbeat_at.timestamp()
            for p in m.assigned:
                prev = parts.get(p)
                if prev is None or hb > prev.heartbeat_epoch:
                    parts[p] = PartitionState(max(0, int(m.lag.get(p, 0))), hb)
        return cls(any_member=bool(members), partitions=parts, taken_epoch=now)


class Freshness:
    """Answers ``freshness_s`` per request from the in-memory snapshot (no I/O)."""

    def __init__(self, heartbeat_stale_s: float) -> None:
        self.heartbeat_stale_s = heartbeat_stale_s
        self.snapshot = LagSnapshot()

    def behind(self, partition: int | None, now: float) -> bool:
        snap = self.snapshot
        if not snap.any_member or partition is None:
            return False
        state = snap.partitions.get(partition)
        if state is None:
            return True
        return state.lag > 0 or now - state.heartbeat_epoch > self.heartbeat_stale_s

    def freshness_s(self, partition: int | None, last_event_epoch: float | None, now: float | None = None) -> int:
        now = time.time() if now is None else now
        if last_event_epoch is None or not self.behind(partition, now):
            return 0
        return max(0, int(now - last_event_epoch))


class LagMonitor(Poller[LagSnapshot]):
    """Background task refreshing a :class:`Freshness` snapshot from ``consumer_members``."""

    def __init__(self, engine: Engine, group: str, freshness: Freshness, interval_s: float) -> None:
        super().__init__(interval_s, name="projector-lag-monitor")
        self._engine = engine
        self._group = group
        self._freshness = freshness

    def _read(self) -> LagSnapshot:
        with Session(self._engine) as session:
            members = projector_members(session, self._group)
        return LagSnapshot.from_members(members, time.time())

    def _keep(self, value: LagSnapshot) -> None:
        self._freshness.snapshot = value
