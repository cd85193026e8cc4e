"""What one run of the projector loop is built from, and the health it reports (read by the health server)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import Consumer

from services.core.kafka.dlq import DeadLetterPublisher
from services.core.planning.batch import Decoded, Incoming, OffsetGap
from services.core.settings import Settings
from services.projector.service import BatchOutcome
from services.projector.stop_event import StopEvent
from services.projector.store import GroupStore

ConsumerFactory = Callable[..., Consumer]
# Called on the loop's thread between a batch's DB commit and its Kafka commit (keep it short).
AfterDbCommit = Callable[[Sequence[Decoded]], None]


class Applier(Protocol):
    """What the loop needs of ``BatchApplier`` (both run on the DB worker thread)."""

    def apply(self, decoded: Sequence[Decoded]) -> BatchOutcome: ...
    def dead_letter_alone(self, msg: Incoming, error: BaseException) -> bool: ...
    def accept_gap(self, gap: OffsetGap) -> None: ...


@dataclass(slots=True)
class LoopHealth:
    """Read by the health server (another thread); plain attribute writes are atomic enough."""

    started_at: float = field(default_factory=time.monotonic)
    last_tick: float = field(default_factory=time.monotonic)
    running: bool = False
    db_ok: bool = True
    reason: str = "starting"

    def live(self, max_silence_s: float) -> bool:
        return time.monotonic() - self.last_tick < max_silence_s

    def ready(self) -> bool:
        return self.running and self.db_ok


@dataclass(frozen=True, slots=True)
class Wiring:
    """What one run of the loop is built from; the last four are shared with the ``ProjectorLoop`` handle."""

    settings: Settings
    applier: Applier
    dlq: DeadLetterPublisher
    store: GroupStore
    consumer_factory: ConsumerFactory
    after_db_commit: AfterDbCommit | None
    fingerprint: str
    config: dict[str, Any]
    cooperative: bool
    health: LoopHealth
    rebalances: Counter[str]
    stop: StopEvent
    assigned: set[int]
