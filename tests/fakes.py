"""In-memory fakes of the ports, for unit tests; tests/integration/test_contracts.py holds each to the
same contract as its real adapter."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.core import events
from services.core.kafka.producer import Delivery
from services.core.search.bulk import Action, BulkStats
from services.intake.repository import PostTarget
from services.rankings.model import START, FeedPosition


@dataclass
class FakeSearchWriter:
    """Documents by (index, id) with their external version; the engine's versioning rules."""

    docs: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    tombstones: dict[tuple[str, str], int] = field(default_factory=dict)

    def write(
        self, index: str, actions: Sequence[Action], *, require_alias: bool = False, retry_timeouts: bool = False
    ) -> BulkStats:
        stats = BulkStats()
        for header, body in actions:
            op, meta = next(iter(header.items()))
            key = (index, meta["_id"])
            version = int(meta["version"])
            current = self.docs.get(key, (self.tombstones.get(key, 0), None))[0]
            if version <= current:
                stats.conflicts += 1
                continue
            if op == "delete":
                if key in self.docs:
                    del self.docs[key]
                    stats.deleted += 1
                else:
                    stats.not_found += 1
                self.tombstones[key] = version
            else:
                self.docs[key] = (version, dict(body or {}))
                stats.indexed += 1
        return stats

    def read(self, index: str, doc_id: str) -> tuple[int, dict[str, Any]] | None:
        return self.docs.get((index, doc_id))


@dataclass
class FakePositionStore:
    position: FeedPosition = START

    def get(self) -> FeedPosition:
        return self.position

    def advance(self, done: FeedPosition) -> None:
        self.position = max(self.position, done)

    def rewind(self, done: FeedPosition) -> None:
        self.position = min(self.position, done)


@dataclass
class FakeEventSender:
    """Keeps what was sent, per partition, in order; offsets count up per partition like a broker."""

    partitions: int = 3
    sent: list[tuple[events.MatchEvent, Delivery]] = field(default_factory=list)
    _offsets: dict[int, itertools.count[int]] = field(default_factory=dict)

    async def send(self, event: events.MatchEvent, *, traceparent: str | None = None) -> Delivery:
        partition = hash(events.partition_key(event.tournament_id, event.division_id)) % self.partitions
        offset = next(self._offsets.setdefault(partition, itertools.count()))
        delivery = Delivery(partition=partition, offset=offset)
        self.sent.append((event, delivery))
        return delivery


@dataclass
class FakePostTargets:
    """Post targets by bout id, with every applied revision; a read keeps those at or above the one asked."""

    targets: dict[str, PostTarget] = field(default_factory=dict)

    def add(self, target: PostTarget) -> None:
        self.targets[target.bout.bout_id] = target

    async def target(self, bout_id: str, revision: int) -> PostTarget | None:
        found = self.targets.get(bout_id)
        if found is None:
            return None
        applied = sorted((a for a in found.applied if a.revision >= revision), key=lambda a: a.revision)
        return found._replace(applied=applied)


@dataclass
class FixedClock:
    now: dt.datetime = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now
