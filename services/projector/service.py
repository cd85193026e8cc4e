"""One projector batch as one unit of work: load, plan, dead-letter, write, commit.

Order inside the transaction (SPEC §6): the consumer positions are locked first; dead letters are
flushed to the DLQ before anything commits (a poison message is never lost); results, conflicts,
effective flags, standings, division versions (+NOTIFY), tournament status, ranking effects and the
new positions all commit together. The Kafka offset commit happens afterwards, in the loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from services.core import metrics, tracing
from services.core.db import brackets, consumers, divisions, projection
from services.core.db.projection import ConflictRecord, DivisionKey
from services.core.domain.ruleset import RULESETS, Ruleset
from services.core.kafka.dlq import DeadLetterPublisher
from services.core.logging import get_logger
from services.core.planning.batch import (
    BatchPlan,
    Decoded,
    Incoming,
    OffsetGap,
    StoredState,
    bout_ids,
    division_keys,
    is_replay,
    offset_gaps,
    plan_batch,
)
from services.projector import rankings_hook
from services.projector.division_memory import DivisionMemory

log = get_logger(__name__)

RankingHook = Callable[[Session, set[DivisionKey], set[DivisionKey]], None]


def _position(msg: Incoming) -> dict[str, Any]:
    """Where ``msg`` stands in the log, as the fields of a log line."""
    return {"topic": msg.topic, "partition": msg.partition, "offset": msg.offset}


class OffsetGapError(Exception):
    """The batch would move a position past messages nobody applied; nothing of it was written."""

    def __init__(self, gaps: Sequence[OffsetGap]) -> None:
        named = ", ".join(
            f"{t}[{p}] stored next offset {g.expected}, first message {g.first}" for g in gaps for t, p in [g.tp]
        )
        super().__init__(f"offset gap: {named}")
        self.gaps = list(gaps)


@dataclass(slots=True)
class BatchOutcome:
    plan: BatchPlan
    # Conflicts recorded by this batch (a replayed conflict is already recorded: absorbed).
    conflicts: list[ConflictRecord] = field(default_factory=list)
    # Divisions whose standings rows changed (what the ranking hook gets as ``touched``).
    recomputed: set[DivisionKey] = field(default_factory=set)
    versions: dict[DivisionKey, int] = field(default_factory=dict)
    db_seconds: float = 0.0

    @property
    def absorbed(self) -> int:
        """Replays, identical duplicates and conflicts replayed from an already recorded offset."""
        return self.plan.absorbed + len(self.plan.conflicts) - len(self.conflicts)


class BatchApplier:
    """Applies decoded batches in single PostgreSQL transactions (called from the DB worker thread)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        dlq: DeadLetterPublisher,
        group: str,
        *,
        dlq_flush_timeout_s: float = 10.0,
        rulesets: Mapping[str, Ruleset] = RULESETS,
        ranking_hook: RankingHook | None = None,
        memory: DivisionMemory | None = None,
    ) -> None:
        self._sessions = sessions
        self._memory = memory if memory is not None else DivisionMemory()  # an empty one is falsy
        self._dlq = dlq
        self.group = group
        self._dlq_timeout = dlq_flush_timeout_s
        self._rulesets = rulesets
        self._hook = ranking_hook or rankings_hook.apply_ranking_effects
        # Gaps the loop found to be Kafka's own (set between batches, while this worker is idle).
        self._accepted_gaps: set[OffsetGap] = set()

    def accept_gap(self, gap: OffsetGap) -> None:
        """Apply batches across ``gap`` from now on: the broker holds no message in it."""
        self._accepted_gaps.add(gap)

    def load_state(self, session: Session, decoded: Sequence[Decoded]) -> StoredState:
        """Lock the batch's positions first (serializes members on a partition), then its divisions
        (serializes members on a division whose events sit on two partitions), then load what the
        messages above those positions refer to."""
        positions = consumers.lock_positions(session, self.group, {d.msg.tp for d in decoded})
        live = [d for d in decoded if not is_replay(d.msg, positions)]
        described: dict[DivisionKey, Any] = {}
        divisions = projection.load_divisions(session, division_keys(live), described)
        # A bracket division's results are checked against its whole log: load all its bouts' revisions.
        bracket_divisions = brackets.bracket_divisions(session, described)
        ids = bout_ids(live).union(*(b.bout_ids for b in bracket_divisions.values()))
        revisions, effective = projection.load_revisions(session, ids)
        return StoredState(
            positions=positions,
            bouts=projection.load_bouts(session, ids),
            revisions=revisions,
            divisions=divisions,
            known_rulesets=frozenset(self._rulesets),
            effective=effective,
            brackets=bracket_divisions,
            rulesets=self._rulesets,
        )

    def apply(self, decoded: Sequence[Decoded]) -> BatchOutcome:
        """One transaction, in one span: a child of the first message's trace, linked to every message's.
        With tracing off no header is parsed: nothing would record the links."""
        if not tracing.enabled():
            return self._apply(decoded)
        traceparents = [tracing.traceparent_in(d.msg.headers) for d in decoded]
        attributes = {"messaging.batch.message_count": len(decoded)}
        with tracing.batch_span(tracing.tracer(__name__), "match-events process", traceparents, attributes):
            return self._apply(decoded)

    def _apply(self, decoded: Sequence[Decoded]) -> BatchOutcome:
        try:
            outcome = self._transaction(decoded)
        except BaseException:
            self._memory.forget()  # whatever it would have remembered did not commit
            raise
        self._memory.committed(outcome.versions)
        self._accepted_gaps.clear()  # the positions are past them
        self._count(decoded, outcome)
        return outcome

    def _transaction(self, decoded: Sequence[Decoded]) -> BatchOutcome:
        started = time.perf_counter()
        with self._sessions() as session, session.begin():
            state = self.load_state(session, decoded)
            gaps = offset_gaps(decoded, state.positions, self._accepted_gaps)
            if gaps:
                raise OffsetGapError(gaps)  # rolls back: the loop re-reads from the stored offsets
            plan = plan_batch(decoded, state)
            self._dead_letter(plan)
            outcome = BatchOutcome(plan)
            projection.insert_revisions(session, plan.new_revisions, plan.effective_new)
            projection.set_effective(session, plan.flips)
            # A conflict changes its division only when recorded now (not when replayed).
            outcome.conflicts = projection.insert_conflicts(session, plan.conflicts)
            for c, _applied in outcome.conflicts:
                plan.mark((c.tournament_id, c.division_id), c.occurred_at, c.partition, c.offset)
            # Every division with a new revision, not only those whose effective results changed:
            # a division's first event also creates its rows (entered athletes at zero).
            recompute = {(r.tournament_id, r.division_id) for r in plan.new_revisions}
            outcome.recomputed = projection.recompute_standings(
                session,
                recompute,
                {key: self._rulesets[state.divisions[key].ruleset] for key in recompute},
                self._memory.known(plan, state),
                self._memory.remember,
            )
            notify = tracing.tracer(__name__).start_as_current_span("standings_changed notify")
            with notify:
                outcome.versions = divisions.bump_divisions(session, plan.changed)
            divisions.update_tournament_status(session, plan.started, plan.finalized)
            self._hook(session, set(outcome.recomputed), set(plan.finalized))
            consumers.save_positions(session, self.group, plan.positions)
        outcome.db_seconds = time.perf_counter() - started
        return outcome

    def dead_letter_alone(self, msg: Incoming, error: BaseException) -> bool:
        """Isolation mode: ``msg`` fails on its own with a non-transient error. Dead-letter it as
        ``processing_error`` and move its partition's position past it, in one small transaction.
        Returns False when the position is already past it (nothing to do)."""
        with self._sessions() as session, session.begin():
            positions = consumers.lock_positions(session, self.group, {msg.tp})
            if is_replay(msg, positions):
                return False
            self._dlq.publish(msg, "processing_error", f"{type(error).__name__}: {error}")
            self._dlq.flush(self._dlq_timeout)
            consumers.save_positions(session, self.group, {msg.tp: msg.offset + 1})
        metrics.DLQ_MESSAGES.labels("processing_error").inc()
        log.error(
            "dead_lettered_processing_error",
            **_position(msg),
            error=f"{type(error).__name__}: {error}",
        )
        return True

    def _dead_letter(self, plan: BatchPlan) -> None:
        if not plan.dead_letters:
            return
        for letter in plan.dead_letters:
            self._dlq.publish(letter.msg, letter.reason, letter.detail)
        self._dlq.flush(self._dlq_timeout)

    def _count(self, decoded: Sequence[Decoded], outcome: BatchOutcome) -> None:
        """Metrics and logs, after the commit (a rolled-back batch counts nothing)."""
        plan = outcome.plan
        for kind, n in plan.applied.items():
            metrics.EVENTS_PROCESSED.labels(kind).inc(n)
        absorbed = outcome.absorbed
        if absorbed:
            metrics.DUPLICATES_ABSORBED.inc(absorbed)
        if outcome.conflicts:
            metrics.CONFLICTS.inc(len(outcome.conflicts))
        if plan.miskeyed:
            metrics.MISKEYED_EVENTS.inc(len(plan.miskeyed))
            first = plan.miskeyed[0]
            log.warning(
                "events_miskeyed",
                count=len(plan.miskeyed),
                **_position(first),
                key=first.key.decode(errors="replace") if first.key is not None else None,
                hint="a division's events should be keyed tournament_id:division_id to stay in order",
            )
        event_ids = {id(d.msg): d.event.event_id for d in decoded if d.event is not None}
        for letter in plan.dead_letters:
            metrics.DLQ_MESSAGES.labels(letter.reason).inc()
            event_id = event_ids.get(id(letter.msg))
            log.warning(
                "dead_lettered",
                reason=letter.reason,
                detail=letter.detail,
                **_position(letter.msg),
                event_id=str(event_id) if event_id else None,
            )
        fields = {
            "messages": len(decoded),
            "applied": sum(plan.applied.values()),
            "replayed": plan.replayed,
            "duplicates": absorbed - plan.replayed,
            "conflicts": len(outcome.conflicts),
            "dead_letters": len(plan.dead_letters),
            "divisions": len(outcome.versions),
            "recomputed": len(outcome.recomputed),
            "db_ms": round(outcome.db_seconds * 1000, 1),
            "positions": {f"{t}:{p}": o for (t, p), o in sorted(plan.positions.items())},
        }
        notable = absorbed or outcome.conflicts or plan.dead_letters
        (log.info if notable else log.debug)("batch_applied", **fields)
