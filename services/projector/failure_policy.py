"""What the projector does when a batch fails: decisions only, no I/O (the loop carries them out).

- A transient failure (PostgreSQL or the DLQ unreachable) is retried, after a database probe passes.
- Any other failure is retried with backoff. When it repeats (``isolate_after`` failures in a row)
  the batch may hold a poison message the planner did not catch: it is replayed one message at a
  time (isolation) up to its last offset per partition.
- In isolation, a message that fails alone is dead-lettered (``processing_error``) and its
  position moves past it: no crash loop, no silent skip.
- After ``systemic_after`` such dead letters in a row the failure is systemic (a bug or a broken
  dependency, not poison): it is retried instead of emptying the stream into the DLQ.

Messages are named by ``(partition, offset)`` pairs, so the policy needs no Kafka types.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import sqlalchemy.exc

from services.core.db.errors import DATABASE_DOWN_ERRORS
from services.core.kafka.dlq import DeadLetterError

# Consecutive non-transient failures of the same batch before it is replayed message by message.
ISOLATE_AFTER_FAILURES = 2
# Messages dead-lettered one after another (processing_error) before failures count as systemic.
SYSTEMIC_AFTER_DEAD_LETTERS = 5

Position = tuple[int, int]  # (partition, offset) of one message


def is_transient(exc: BaseException) -> bool:
    """Failures of the environment (PostgreSQL or the DLQ unreachable), retried until they pass.

    Anything else is treated as a possible poison message (see isolation).
    """
    if isinstance(exc, (*DATABASE_DOWN_ERRORS, DeadLetterError)):
        return True
    return isinstance(exc, sqlalchemy.exc.DBAPIError) and bool(exc.connection_invalidated)


class Action(enum.Enum):
    RETRY = "retry"  # rewind, back off, retry the batch as it was
    ISOLATE = "isolate"  # rewind, back off, replay the batch one message at a time
    DEAD_LETTER = "dead_letter"  # the message failed alone: dead-letter it and move past it
    SYSTEMIC = "systemic"  # messages keep failing alone: rewind and retry, dead-letter nothing


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    transient: bool
    attempt: int  # consecutive failures, this one included
    # Seconds to wait before the retry; None: until a database probe succeeds (transient failures).
    backoff_s: float | None
    # Set when this failure starts an isolation: last offset to replay alone, per partition.
    isolation: Mapping[int, int] | None = None


@dataclass(kw_only=True, eq=False, slots=True)
class FailurePolicy:
    """Failure and dead-letter streaks of one loop, and the isolation they lead to."""

    max_backoff_s: float
    isolate_after: int = ISOLATE_AFTER_FAILURES
    systemic_after: int = SYSTEMIC_AFTER_DEAD_LETTERS
    base_backoff_s: float = 0.2
    failures: int = field(default=0, init=False)
    dead_lettered_in_a_row: int = field(default=0, init=False)
    _isolate: dict[int, int] = field(default_factory=dict, init=False)

    @property
    def isolating(self) -> bool:
        """True while batches are replayed one message at a time."""
        return bool(self._isolate)

    @property
    def isolation(self) -> dict[int, int]:
        return dict(self._isolate)

    def on_failure(self, batch: Sequence[Position], *, transient: bool) -> Decision:
        """The batch ``batch`` failed (``transient``: see :func:`is_transient`)."""
        self.failures += 1
        alone = not transient and len(batch) == 1 and self.isolating
        if alone and self.dead_lettered_in_a_row < self.systemic_after:
            return Decision(Action.DEAD_LETTER, False, self.failures, None)
        isolation: dict[int, int] | None = None
        if not transient and self.failures >= self.isolate_after:
            isolation = {}
            for partition, offset in batch:
                isolation[partition] = max(isolation.get(partition, -1), offset)
            self._isolate = dict(isolation)
        if alone:  # message after message failed alone: a bug or a broken dependency, not poison
            action = Action.SYSTEMIC
        elif isolation is not None:
            action = Action.ISOLATE
        else:
            action = Action.RETRY
        return Decision(action, transient, self.failures, self._retry_backoff(transient), isolation)

    def on_dead_letter_failure(self, *, transient: bool) -> Decision:
        """Dead-lettering a message that failed alone failed too (the DLQ or PG is away): retry it."""
        return Decision(Action.RETRY, transient, self.failures, self._retry_backoff(transient))

    def on_success(self, batch: Iterable[Position]) -> list[Position]:
        """The batch committed. Returns where isolation finished (partition, offset), if it did."""
        self.failures = 0
        self.dead_lettered_in_a_row = 0
        return self._progress(batch)

    def on_dead_lettered(self, message: Position) -> list[Position]:
        """A message that failed alone was dead-lettered and its position moved past it."""
        self.failures = 0
        self.dead_lettered_in_a_row += 1
        return self._progress([message])

    def forget(self, partitions: Iterable[int]) -> None:
        """Partitions revoked or lost: their isolation is the next owner's business."""
        for partition in partitions:
            self._isolate.pop(partition, None)

    def probe_backoff_s(self, attempt: int) -> float:
        """Wait after the ``attempt``-th failed database probe: exponential, capped."""
        return min(self.max_backoff_s, self.base_backoff_s * 2 ** max(0, attempt - 1))

    def _retry_backoff(self, transient: bool) -> float | None:
        if transient:
            return None
        return min(self.max_backoff_s, self.base_backoff_s * 2**self.failures)

    def _progress(self, batch: Iterable[Position]) -> list[Position]:
        finished: list[Position] = []
        for partition, offset in batch:
            end = self._isolate.get(partition)
            if end is not None and offset >= end:
                del self._isolate[partition]
                finished.append((partition, offset))
        return finished
