"""Intake use cases: validate a post against registration and applied revisions, then produce it.

The intake never writes results itself; the projector is the only writer. What it guards here
is the referee's feedback loop: a post that contradicts a revision the projector has already
applied gets a 409 naming that revision instead of a 202 that would only become a recorded
conflict later, and a result whose score its tournament's ruleset rules out (a ``points`` win
for the side behind, an unequal ``draw``) gets a 422 naming the rule. Everything else is
produced, including identical reposts (same event id; the projector absorbs duplicates), so a
client retry after a timeout is always safe — even of a result accepted before a rule existed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker

from services.core import events
from services.core.db.errors import DATABASE_DOWN_ERRORS
from services.core.domain.brackets import Participants
from services.core.domain.codec import UndecodablePayload, athletes_of, decode_revision
from services.core.domain.consistency import RuleViolation
from services.core.domain.results import BoutResult, BoutVoid, Revision, is_same_payload
from services.core.domain.ruleset import RULESETS, Ruleset
from services.core.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from services.core.kafka.producer import Delivery, trace_id_of, traceparent_for
from services.core.logging import get_logger
from services.intake import repository
from services.intake.accepted import CONFLICTING_REVISION, STALE_REVISION, AcceptedRevisions
from services.intake.repository import AppliedRevision, PostTarget
from services.intake.schemas import (
    RULESET_VIOLATION_SLUG,
    RULESET_VIOLATION_TITLE,
    AcceptedOut,
    FinalizedDivisionOut,
    FinalizeOut,
    ResultIn,
    VoidIn,
)

log = get_logger(__name__)
# The ``reason`` member of a bout write's 409 (besides the two revision reasons of accepted.py).
OPEN_SLOT = "open_slot"
BYE = "bye"
T = TypeVar("T")
R = TypeVar("R", BoutResult, BoutVoid)


class EventSender(Protocol):
    """The port the intake produces through (EventProducer in production)."""

    async def send(self, event: events.MatchEvent, *, traceparent: str | None = None) -> Delivery: ...


class PostTargets(Protocol):
    """The port a post's target is read through (repository.PooledPostTargets in production)."""

    async def target(self, bout_id: str, revision: int) -> PostTarget | None:
        """The bout, its ruleset, its applied revisions at or above ``revision`` and its slots (None: unknown)."""
        ...


@contextmanager
def database_or_503() -> Iterator[None]:
    """PostgreSQL unreachable (or no pooled connection in time): a 503 with Retry-After, never a 500."""
    try:
        yield
    except DATABASE_DOWN_ERRORS as exc:
        log.warning("database_unavailable", error=type(exc).__name__)
        raise ServiceUnavailable("the database is unavailable; retry shortly", 2) from None


def stored_revision(bout_id: str, applied: AppliedRevision) -> Revision | None:
    """The domain value of an applied ``results`` row (None when its payload is unreadable)."""
    try:
        return decode_revision(bout_id, applied.revision, applied.kind, applied.payload)
    except UndecodablePayload:
        return None


def _voided(
    tournament_id: str, division_id: str, void: BoutVoid, at: datetime, _athletes: tuple[str, str] | None
) -> events.ResultVoided:
    """A void names no athletes (it annuls whatever was fought)."""
    return events.result_voided(tournament_id, division_id, void, at)


class ResultBreaksRuleset(Unprocessable):
    """A result its tournament's ruleset rules out (422); ``ruleset`` and ``rule`` name the rule."""

    title, type_slug = RULESET_VIOLATION_TITLE, RULESET_VIOLATION_SLUG

    def __init__(self, violations: Sequence[RuleViolation]) -> None:
        first = violations[0]
        super().__init__("; ".join(v.detail for v in violations), ruleset=first.ruleset, rule=first.rule)


def check_against_ruleset(posted: BoutResult, ruleset: Ruleset) -> None:
    """Raise ResultBreaksRuleset (422) when the score contradicts the method under ``ruleset``."""
    violations = ruleset.score_violations(posted.winner, posted.method, posted.score)
    if violations:
        raise ResultBreaksRuleset(violations)


def bracket_athletes(target: PostTarget, posted: Revision, repost: bool) -> tuple[str, str] | None:
    """The (red, blue) athletes a bracket bout's result is fought between: its slots as they stand
    (SPEC §7), or for a repost the athletes it was applied with (the same event again). None for a
    round-robin bout or a void; raise Conflict (409) while a slot is open or the position is a bye."""
    if not target.in_bracket or isinstance(posted, BoutVoid):
        return None
    if repost:
        applied = next((a for a in target.applied if a.revision == posted.revision), None)
        stored = None if applied is None else athletes_of(applied.payload)
        if stored is not None:
            return stored
    slots = target.slots
    if slots is not None and slots.red is not None and slots.blue is not None:
        return slots.red, slots.blue
    if slots is not None and slots.status == "bye":
        raise Conflict(Participants(posted.bout_id, None, None, True, ()).problem() or "", waiting_for=None, reason=BYE)
    waits = slots.waiting_for if slots is not None else None
    raise Conflict(
        f"{posted.bout_id}: {waits or 'its slots are not determined yet'}", waiting_for=waits, reason=OPEN_SLOT
    )


def check_against_applied(posted: Revision, applied: Sequence[AppliedRevision]) -> bool:
    """Raise Conflict (409) unless ``posted`` is new or identical to what is applied at its revision.

    ``applied`` holds the bout's applied revisions at or above the posted one. Returns True when
    ``posted`` is a repost of the applied revision (nothing new to judge), False when it is new.
    """
    if not applied:
        return False
    latest = max(a.revision for a in applied)
    at_posted = next((a for a in applied if a.revision == posted.revision), None)
    if at_posted is not None:
        stored = stored_revision(posted.bout_id, at_posted)
        if stored is not None and is_same_payload(posted, stored):
            return True
        detail = (
            f"revision {posted.revision} of bout {posted.bout_id!r} is already applied with a different "
            f"{at_posted.kind}; post revision {latest + 1} to correct it"
        )
        reason = CONFLICTING_REVISION
    else:
        detail = (
            f"bout {posted.bout_id!r} is already at revision {latest}; "
            f"revision {posted.revision} is stale, post revision {latest + 1} to correct it"
        )
        reason = STALE_REVISION
    raise Conflict(detail, applied_revision=latest, reason=reason)


class IntakeService:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        sender: EventSender,
        targets: PostTargets,
        *,
        clock: Callable[[], datetime] = events.now_utc,
        db_concurrency: int = 5,
        rulesets: Mapping[str, Ruleset] = RULESETS,
    ) -> None:
        self._session_factory = session_factory
        self._sender = sender
        self._targets = targets
        self._rulesets = rulesets
        self._clock = clock
        self._db_concurrency = db_concurrency
        self._db_limiter: anyio.CapacityLimiter | None = None  # created on the event loop, at first use
        self.accepted = AcceptedRevisions()

    async def record_result(
        self, tournament_id: str, bout_id: str, body: ResultIn, *, traceparent: str | None = None
    ) -> AcceptedOut:
        return await self._post(tournament_id, body.to_domain(bout_id), events.result_recorded, traceparent)

    async def void_result(
        self, tournament_id: str, bout_id: str, body: VoidIn, *, traceparent: str | None = None
    ) -> AcceptedOut:
        return await self._post(tournament_id, body.to_domain(bout_id), _voided, traceparent)

    async def finalize(self, tournament_id: str, *, traceparent: str | None = None) -> FinalizeOut:
        """One ``tournament_finalized`` per division, so each division's partition sees it in order."""
        divisions = await self._run(self._divisions, tournament_id)
        trace = traceparent_for(traceparent)
        now = self._clock()
        finalize_events = [events.tournament_finalized(tournament_id, d, now) for d in divisions]
        deliveries = await asyncio.gather(*(self._sender.send(e, traceparent=trace) for e in finalize_events))
        out = [
            FinalizedDivisionOut(event_id=e.event_id, division_id=e.division_id, partition=d.partition, offset=d.offset)
            for e, d in zip(finalize_events, deliveries, strict=True)
        ]
        log.info(
            "tournament_finalize_accepted", tournament_id=tournament_id, divisions=len(out), trace_id=trace_id_of(trace)
        )
        return FinalizeOut(tournament_id=tournament_id, events=out)

    @property
    def rulesets(self) -> Mapping[str, Ruleset]:
        return self._rulesets

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(session, *args)`` on one of the intake's sessions, in a worker thread (503 while the database is down)."""
        return await self._run(self._in_session, fn, *args)

    # -- internals -------------------------------------------------------------------------

    def _in_session(self, fn: Callable[..., T], *args: Any) -> T:
        with self._session_factory() as session:
            return fn(session, *args)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        with database_or_503():
            if self._db_limiter is None:
                self._db_limiter = anyio.CapacityLimiter(self._db_concurrency)
            return await anyio.to_thread.run_sync(fn, *args, limiter=self._db_limiter)

    async def _checked(self, tournament_id: str, posted: Revision) -> tuple[str, tuple[str, str] | None]:
        """The bout's division and, for a bracket result, its athletes, after the 404, 409 (applied
        revisions, open bracket slots) and (for a new result) ruleset checks."""
        with database_or_503():
            target = await self._targets.target(posted.bout_id, posted.revision)
        return self._judged(tournament_id, posted, target)

    def _judged(
        self, tournament_id: str, posted: Revision, target: PostTarget | None
    ) -> tuple[str, tuple[str, str] | None]:
        """:meth:`_checked` once the target is read: raise NotFound, Conflict or ResultBreaksRuleset, or
        return the division and the athletes."""
        if target is None or target.bout.tournament_id != tournament_id:
            raise NotFound(f"bout {posted.bout_id!r} does not exist in tournament {tournament_id!r}")
        repost = check_against_applied(posted, target.applied)
        athletes = bracket_athletes(target, posted, repost)
        if isinstance(posted, BoutResult) and not repost:
            ruleset = self._rulesets.get(target.ruleset)
            if ruleset is None:
                # A registration error, not the referee's: the projector dead-letters the result
                # (unknown_ruleset) and a replay after the ruleset is added scores it.
                log.warning("unknown_ruleset", tournament_id=tournament_id, ruleset=target.ruleset)
            else:
                check_against_ruleset(posted, ruleset)
        return target.bout.division_id, athletes

    def _divisions(self, tournament_id: str) -> list[str]:
        with self._session_factory() as session:
            if not repository.tournament_exists(session, tournament_id):
                raise NotFound(f"tournament {tournament_id!r} does not exist")
            divisions = repository.division_ids(session, tournament_id)
        if not divisions:
            raise Conflict(f"tournament {tournament_id!r} has no divisions to finalize")
        return divisions

    async def _post(
        self,
        tournament_id: str,
        posted: R,
        make_event: Callable[
            [str, str, R, datetime, tuple[str, str] | None], events.ResultRecorded | events.ResultVoided
        ],
        traceparent: str | None,
    ) -> AcceptedOut:
        """A result or void: checked against the bout (404/409/ruleset), then produced (202 once delivered)."""
        division_id, athletes = await self._checked(tournament_id, posted)
        # No await between this claim and the check above it: a second device's different payload
        # for this revision is refused here even before the projector has applied the first.
        claimed = self.accepted.claim(posted)
        event = make_event(tournament_id, division_id, posted, self._clock(), athletes)
        try:
            return await self._produce(event, posted.bout_id, posted.revision, traceparent)
        except BaseException:
            if claimed:
                self.accepted.release(posted)
            raise

    async def _produce(
        self, event: events.ResultRecorded | events.ResultVoided, bout_id: str, revision: int, traceparent: str | None
    ) -> AcceptedOut:
        trace = traceparent_for(traceparent)
        delivery = await self._sender.send(event, traceparent=trace)
        log.info(
            "revision_accepted",
            event_type="result_voided" if isinstance(event, events.ResultVoided) else "result_recorded",
            event_id=str(event.event_id),
            tournament_id=event.tournament_id,
            division_id=event.division_id,
            bout_id=bout_id,
            revision=revision,
            partition=delivery.partition,
            offset=delivery.offset,
            trace_id=trace_id_of(trace),
        )
        return AcceptedOut(
            event_id=event.event_id,
            partition=delivery.partition,
            offset=delivery.offset,
            bout_id=bout_id,
            revision=revision,
        )
