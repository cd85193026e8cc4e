"""Pure planning of one projector batch: what to insert, what is a duplicate, a conflict or a dead letter.

No I/O: :func:`plan_batch` gets the stored state the repository loaded (positions, bouts, existing
revisions, divisions) and returns a :class:`BatchPlan` the repository writes in one transaction.
Its value types, the stored form of a revision and the first-applied-wins rule are the pure
domain's (``services.core.domain``); nothing here imports the database layer. The rules (SPEC §5-§6):

- a message below its partition's stored next offset was applied before: a replay, absorbed;
- a batch that lacks offsets between a partition's stored next offset and its last message would
  move the position past messages nobody applied: :func:`offset_gaps` names them, and the batch is
  not applied;
- a message that cannot be decoded, names an unknown bout (or a bout of another division), an
  unknown division or a tournament with an unknown ruleset is a dead letter with that reason;
- a (bout, revision) already stored, or seen earlier in the batch, with the same payload is a
  duplicate (absorbed); with a different payload it is a conflict: the first applied wins
  (:class:`~services.core.domain.first_applied.FirstAppliedWins`), the second is recorded and
  dead-lettered (``conflicting_revision``), never merged;
- a division's ``tournament_finalized`` applies once (``divisions.finalized_at``); again, it is a
  duplicate;
- a new result for a bracket bout whose slots are not both known at its place in the log (the
  stored revisions of its division plus the batch's accepted ones before it) is a dead letter,
  ``slot_not_determined`` (or ``no_bout`` for a bye), SPEC §7 (:mod:`services.core.planning.bracket_log`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from services.core import events
from services.core.domain.bracket_division import BracketDivision
from services.core.domain.codec import RESULT, StoredRevision, encode_result, encode_revision
from services.core.domain.first_applied import FirstAppliedWins, RevisionKey, Verdict
from services.core.domain.projection import (
    BoutPlace,
    ConflictRecord,
    DivisionInfo,
    DivisionKey,
    DivisionMark,
    NewRevision,
)
from services.core.domain.ruleset import Ruleset
from services.core.planning.bracket_log import BracketLogs, bracket_revision

TopicPartitionKey = tuple[str, int]

# The dead-letter reason of a second, different payload at an applied (bout, revision).
CONFLICTING_REVISION = "conflicting_revision"


class _KafkaMessage(Protocol):
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> str | bytes | None: ...
    def value(self) -> str | bytes | None: ...
    def headers(self) -> Any: ...


@dataclass(slots=True, eq=False)
class Incoming:
    """A consumed message, detached from librdkafka (constructible in unit tests).

    ``headers`` are kept as librdkafka returns them (a list of (name, value) pairs, or None):
    only a dead letter needs them.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Any = None

    @classmethod
    def from_message(cls, msg: _KafkaMessage) -> Incoming:
        key, value = msg.key(), msg.value()
        return cls(
            msg.topic() or "",
            msg.partition() or 0,
            msg.offset() or 0,
            key.encode() if isinstance(key, str) else key,
            value.encode() if isinstance(value, str) else value,
            msg.headers(),
        )

    @property
    def tp(self) -> TopicPartitionKey:
        return (self.topic, self.partition)


class Decoded(NamedTuple):
    msg: Incoming
    event: events.MatchEvent | None
    poison: events.PoisonMessage | None


def decode_one(msg: Incoming) -> Decoded:
    try:
        return Decoded(msg, events.decode(msg.value), None)
    except events.PoisonMessage as exc:
        return Decoded(msg, None, exc)


def decode_batch(messages: Iterable[Incoming]) -> list[Decoded]:
    return [decode_one(msg) for msg in messages]


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the repository loaded (under the positions lock) for the batch's keys."""

    positions: Mapping[TopicPartitionKey, int]
    bouts: Mapping[str, BoutPlace]
    revisions: Mapping[RevisionKey, StoredRevision]
    divisions: Mapping[DivisionKey, DivisionInfo]
    known_rulesets: Container[str]
    # bout -> its stored effective revision (bouts whose highest revision is a void are absent).
    effective: Mapping[str, int] = field(default_factory=dict)
    # The batch's bracket divisions; ``revisions`` then holds every stored revision of their bouts.
    brackets: Mapping[DivisionKey, BracketDivision] = field(default_factory=dict)
    rulesets: Mapping[str, Ruleset] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    msg: Incoming
    reason: str
    detail: str


@dataclass(slots=True)
class BatchPlan:
    new_revisions: list[NewRevision] = field(default_factory=list)
    conflicts: list[ConflictRecord] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    finalized: set[DivisionKey] = field(default_factory=set)
    changed: dict[DivisionKey, DivisionMark] = field(default_factory=dict)
    # Scheduled tournaments that got a new result revision (-> live).
    started: set[str] = field(default_factory=set)
    # Next offset per partition: every message of the batch, whatever became of it.
    positions: dict[TopicPartitionKey, int] = field(default_factory=dict)
    # Applicable events whose key is not "{tournament_id}:{division_id}" (applied, but counted and logged).
    miskeyed: list[Incoming] = field(default_factory=list)
    replayed: int = 0
    duplicates: int = 0
    applied: Counter[str] = field(default_factory=Counter)
    # The effective revision of each bout (its highest, if a result): new rows inserted as
    # effective, stored rows whose flag flips, and the bouts whose effective result changed.
    effective_new: set[tuple[str, int]] = field(default_factory=set)
    flips: list[tuple[str, int, bool]] = field(default_factory=list)
    changed_bouts: set[str] = field(default_factory=set)

    @property
    def absorbed(self) -> int:
        """Replays (below the stored offset) plus identical (bout, revision, payload) duplicates."""
        return self.replayed + self.duplicates

    def mark(self, key: DivisionKey, occurred_at: dt.datetime, partition: int, offset: int) -> None:
        """Note a change of division ``key`` (its version is bumped once for the batch)."""
        mark = self.changed.get(key)
        if mark is None:
            self.changed[key] = DivisionMark(occurred_at, partition, offset)
            return
        mark.last_event_at = max(mark.last_event_at, occurred_at)
        if (partition, offset) > (mark.partition, mark.offset):
            mark.partition, mark.offset = partition, offset


def revision_payload(event: events.ResultRecorded | events.ResultVoided) -> StoredRevision:
    """The stored form of an event's revision: kind plus a canonical payload (identity for duplicates)."""
    if isinstance(event, events.ResultRecorded):
        # The event's result object has the domain result's fields; a bracket result its athletes.
        return encode_result(event.result, event.red_athlete_id, event.blue_athlete_id)
    return encode_revision(event.to_domain())


def bout_ids(decoded: Iterable[Decoded]) -> set[str]:
    return {d.event.bout_id for d in decoded if isinstance(d.event, events.ResultRecorded | events.ResultVoided)}


def division_keys(decoded: Iterable[Decoded]) -> set[DivisionKey]:
    return {(d.event.tournament_id, d.event.division_id) for d in decoded if d.event is not None}


def is_replay(msg: Incoming, positions: Mapping[TopicPartitionKey, int]) -> bool:
    stored = positions.get(msg.tp)
    return stored is not None and msg.offset < stored


class OffsetGap(NamedTuple):
    """Offsets ``expected`` up to ``first`` (excluded) of a partition are missing from a batch that
    would move the stored next offset past them."""

    tp: TopicPartitionKey
    expected: int  # the first missing offset (the stored next offset when the batch starts above it)
    first: int  # the batch's next offset after the missing ones


def offset_gaps(
    decoded: Iterable[Decoded], positions: Mapping[TopicPartitionKey, int], accepted: Container[OffsetGap] = ()
) -> list[OffsetGap]:
    """Where applying the batch would skip messages: offsets from the stored next offset up to the
    batch's last one that no message of the batch carries, so no batch would ever apply them.
    Kafka's own gaps (retention, compaction, transaction markers) look the same; the loop tells
    them apart and ``accepted`` holds those."""
    live: dict[TopicPartitionKey, set[int]] = {}
    for item in decoded:
        msg = item.msg
        stored = positions.get(msg.tp)
        if stored is not None and msg.offset >= stored:
            live.setdefault(msg.tp, set()).add(msg.offset)
    gaps: list[OffsetGap] = []
    for tp, offsets in sorted(live.items()):
        expected = positions[tp]
        for offset in sorted(offsets):
            if offset > expected and (gap := OffsetGap(tp, expected, offset)) not in accepted:
                gaps.append(gap)
            expected = offset + 1
    return gaps


def plan_batch(decoded: Sequence[Decoded], state: StoredState) -> BatchPlan:
    """Classify every message of the batch in consumption order (first applied wins)."""
    plan = BatchPlan()
    first = FirstAppliedWins(state.revisions)
    brackets = BracketLogs(state.brackets, state.revisions)
    for item in decoded:
        msg = item.msg
        if _advance(plan, msg, state.positions):
            plan.replayed += 1
            continue
        if item.poison is not None:
            plan.dead_letters.append(DeadLetter(msg, item.poison.reason, item.poison.detail))
            continue
        event = item.event
        assert event is not None
        key = (event.tournament_id, event.division_id)
        if msg.key != events.partition_key(*key).encode():
            plan.miskeyed.append(msg)
        if isinstance(event, events.TournamentFinalized):
            _plan_finalize(plan, msg, event, state.divisions.get(key))
            continue
        rejected = _reject_revision(msg, event, state)
        if rejected is None and key in brackets:
            rejected = _reject_in_bracket(msg, event, first, brackets, state)
        if rejected is not None:
            plan.dead_letters.append(rejected)
            continue
        if _plan_revision(plan, msg, event, first, state.divisions[key]) and key in brackets:
            brackets.add(key, bracket_revision(event))
    _plan_effective(plan, state)
    return plan


def _advance(plan: BatchPlan, msg: Incoming, stored: Mapping[TopicPartitionKey, int]) -> bool:
    """Move the partition's next offset past ``msg``; True when it was applied before (a replay)."""
    tp = (msg.topic, msg.partition)
    if msg.offset >= plan.positions.get(tp, 0):
        plan.positions[tp] = msg.offset + 1
    return msg.offset < stored.get(tp, 0)


def _plan_finalize(
    plan: BatchPlan, msg: Incoming, event: events.TournamentFinalized, division: DivisionInfo | None
) -> None:
    key = (event.tournament_id, event.division_id)
    if division is None:
        plan.dead_letters.append(DeadLetter(msg, "unknown_division", f"division {key[0]}/{key[1]} is not registered"))
    elif division.finalized or key in plan.finalized:
        plan.duplicates += 1  # the division's finalize was applied before
    else:
        plan.finalized.add(key)
        plan.mark(key, event.occurred_at, msg.partition, msg.offset)
        plan.applied["tournament_finalized"] += 1


def _reject_revision(
    msg: Incoming, event: events.ResultRecorded | events.ResultVoided, state: StoredState
) -> DeadLetter | None:
    """The dead letter of a revision for an unknown bout, division or ruleset; None when it applies."""
    key = (event.tournament_id, event.division_id)
    bout = state.bouts.get(event.bout_id)
    division = state.divisions.get(key)
    if bout is None or division is None or (bout.tournament_id, bout.division_id) != key:
        where = "is not registered" if bout is None else f"belongs to {bout.tournament_id}/{bout.division_id}"
        return DeadLetter(msg, "unknown_bout", f"bout {event.bout_id} {where}, event names {key[0]}/{key[1]}")
    if division.ruleset not in state.known_rulesets:
        return DeadLetter(msg, "unknown_ruleset", f"tournament {key[0]} uses unknown ruleset {division.ruleset!r}")
    return None


def _reject_in_bracket(
    msg: Incoming,
    event: events.ResultRecorded | events.ResultVoided,
    first: FirstAppliedWins,
    brackets: BracketLogs,
    state: StoredState,
) -> DeadLetter | None:
    """The dead letter of a new bracket result whose slots are not both known at this point of the
    log. A (bout, revision) applied before is left to first-applied-wins (a duplicate or a conflict)."""
    at = (event.bout_id, event.revision)
    if at in first.accepted or at in state.revisions:
        return None
    key = (event.tournament_id, event.division_id)
    rejected = brackets.rejects(key, bracket_revision(event), state.rulesets[state.divisions[key].ruleset])
    return None if rejected is None else DeadLetter(msg, *rejected)


def _plan_revision(
    plan: BatchPlan,
    msg: Incoming,
    event: events.ResultRecorded | events.ResultVoided,
    first: FirstAppliedWins,
    division: DivisionInfo,
) -> bool:
    """Plan a revision that passed the checks; True when it is applied now (new)."""
    t, d = key = (event.tournament_id, event.division_id)
    stored = revision_payload(event)
    outcome = first.offer((event.bout_id, event.revision), stored)
    if outcome.verdict is Verdict.DUPLICATE:
        plan.duplicates += 1
        return False
    revision = NewRevision(
        tournament_id=t,
        division_id=d,
        bout_id=event.bout_id,
        revision=event.revision,
        kind=stored.kind,
        payload=stored.payload,
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        partition=msg.partition,
        offset=msg.offset,
    )
    if outcome.verdict is Verdict.CONFLICT:
        plan.conflicts.append(ConflictRecord(revision, outcome.applied.payload))
        detail = f"bout {event.bout_id} revision {event.revision} was already applied with a different payload"
        plan.dead_letters.append(DeadLetter(msg, CONFLICTING_REVISION, detail))
        return False
    plan.new_revisions.append(revision)
    if division.tournament_status == "scheduled":
        plan.started.add(t)
    plan.mark(key, event.occurred_at, msg.partition, msg.offset)
    plan.applied["result_recorded" if stored.kind == RESULT else "result_voided"] += 1
    return True


def _plan_effective(plan: BatchPlan, state: StoredState) -> None:
    """Each touched bout's effective revision after the batch: its highest revision if that is a
    result, none if it is a void (SPEC §3). Only changes are written."""
    new: dict[str, dict[int, str]] = {}
    for r in plan.new_revisions:
        new.setdefault(r.bout_id, {})[r.revision] = r.kind
    if not new:
        return
    stored: dict[str, dict[int, str]] = {}
    for (bout, revision), rev in state.revisions.items():
        if bout in new:
            stored.setdefault(bout, {})[revision] = rev.kind
    for bout, added in new.items():
        old_revisions = stored.get(bout, {})
        top = max(max(added), max(old_revisions, default=0))
        kind = added.get(top) or old_revisions.get(top)
        effective = top if kind == RESULT else None
        before = state.effective.get(bout)
        if effective is not None and effective in added:
            plan.effective_new.add((bout, effective))
        if effective != before:
            plan.changed_bouts.add(bout)
            if before is not None:
                plan.flips.append((bout, before, False))
            if effective is not None and effective not in added:
                plan.flips.append((bout, effective, True))
