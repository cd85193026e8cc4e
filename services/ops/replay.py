"""Replay: rebuild division standings from the ``match-events`` log and repair PostgreSQL.

The live group is not disturbed: the log is read with ``assign()`` under a throwaway group id (no
group join, no offset commit), and the only lock taken is a short one at the end.

1. **Read** each partition from its start (the log start, or the first offset at ``--from-time``) up
   to a target captured up front: the high watermark or the live projector's position, whichever
   is further (tansu under-reports watermarks). Poison messages are counted and skipped.
2. **Plan with the projector's planner**: the replayed window is one batch (``plan_batch``) over the
   revisions stored outside it, so its rules are the live projector's, in one place: the first
   payload of a (bout, revision) wins (``FirstAppliedWins``), and events for unknown bouts,
   divisions or rulesets are the dead letters the projector makes of them (counted by reason,
   never scored).
3. **Compare and write** in ONE transaction holding the live group's position rows for the
   partitions (a projector batch on them waits, a few milliseconds): the comparison covers exactly
   the log prefix the live projector has applied. Revisions outside the replayed window (before
   the start, e.g. expired by retention or skipped by ``--from-time``, or applied by the live group
   after the read finished) come from the ``results`` table. Divisions whose stored standings differ
   are rewritten by the projector's writer (``projection.write_standings``: same rows, same
   ``previous_rank`` rule), their version bumped with a NOTIFY and their ranking effects re-derived,
   exactly like a projector batch; ``dry_run`` only reports.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.core import events
from services.core.db import brackets, divisions, projection
from services.core.db.engine import make_session_factory
from services.core.db.projection import DivisionInput
from services.core.domain import bracket_division
from services.core.domain.codec import StoredRevision, decode_bracket_revision, decode_revision
from services.core.domain.first_applied import FirstAppliedWins, RevisionKey, Verdict
from services.core.domain.projection import DivisionInfo, DivisionKey, DivisionMark
from services.core.domain.results import effective_results
from services.core.domain.ruleset import RULESETS, Ruleset
from services.core.domain.standings import (
    StandingRow,
    StandingsChange,
    StoredStanding,
    compute_standings,
    standings_change,
)
from services.core.logging import get_logger
from services.core.planning.batch import (
    CONFLICTING_REVISION,
    BatchPlan,
    Decoded,
    Incoming,
    StoredState,
    bout_ids,
    decode_one,
    division_keys,
    plan_batch,
)
from services.core.settings import Settings
from services.ops import repository
from services.ops.log_reader import LogReader, ProgressCallback, ReplayError, plan_windows
from services.rankings import rerank as rankings

__all__ = ["ProgressCallback", "ReplayError", "ReplayReport", "Window", "replay"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Window:
    """Offsets of one partition: read [start, target); ``reached`` is the next offset after the last read."""

    partition: int
    start: int
    target: int
    reached: int
    live_position: int | None = None  # the live group's position when the write began

    def replayed(self, offset: int) -> bool:
        """True when the event at ``offset`` was read and the live group has applied it too."""
        return self.start <= offset < self.reached and (self.live_position is None or offset < self.live_position)

    def from_database(self, offset: int) -> bool:
        """True for applied revisions outside the read window (their payload comes from ``results``)."""
        return offset < self.start or offset >= self.reached


@dataclass(frozen=True, slots=True)
class DivisionDiff:
    tournament_id: str
    division_id: str
    athletes: tuple[str, ...]  # athletes whose stored row differs (or is missing / extra)
    rows_written: int


@dataclass(slots=True)
class ReplayReport:
    topic: str
    group: str
    dry_run: bool
    windows: list[Window] = field(default_factory=list)
    messages: int = 0
    events: Counter[str] = field(default_factory=Counter)
    poison: Counter[str] = field(default_factory=Counter)
    # The dead letters the projector's plan makes of the replayed revisions, by reason (but conflicts).
    ignored: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    # Revisions read from the log, already passed by the live group, with no row in ``results``.
    missing_in_results: int = 0
    divisions: int = 0
    differing: list[DivisionDiff] = field(default_factory=list)
    incomplete_partitions: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def events_per_s(self) -> float:
        """Messages read, planned and compared per second of the whole replay."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def equal(self) -> bool:
        """True when every replayed division's stored standings equalled the log's (before any repair)."""
        return not self.differing


# --- reading the log ------------------------------------------------------------------------------


class _Collector:
    """Counts what is read and keeps the revisions, decoded as the projector decodes them."""

    def __init__(self, report: ReplayReport) -> None:
        self._report = report
        self.revisions: list[Decoded] = []

    def __call__(self, msg: Message) -> None:
        self._report.messages += 1
        item = decode_one(Incoming.from_message(msg))
        if item.poison is not None:
            self._report.poison[item.poison.reason] += 1
            return
        self._report.events[type(item.event).__name__] += 1
        if not isinstance(item.event, events.ResultRecorded | events.ResultVoided):
            return  # tournament_finalized: no effect on standings
        # Decoded, and a replay never dead-letters: the raw value and headers need not be kept.
        item.msg.value = item.msg.headers = None
        self.revisions.append(item)


# --- plan, recompute and write --------------------------------------------------------------------

_Entry = tuple[int, int, DivisionKey, str, int, StoredRevision]  # partition, offset, division, bout, revision
_Chosen = dict[DivisionKey, dict[RevisionKey, StoredRevision]]  # the revisions that stand, per division


def _first_in_log(entries: Iterable[_Entry], report: ReplayReport) -> _Chosen:
    """First applied wins over stored revisions in log order: the first payload per (bout, revision)
    wins, a later different one is a conflict (counted), a later equal one a duplicate."""
    rules: dict[DivisionKey, FirstAppliedWins] = {}
    for _, _, key, bout_id, revision, stored in sorted(entries, key=lambda e: (e[0], e[1])):
        if rules.setdefault(key, FirstAppliedWins()).offer((bout_id, revision), stored).verdict is Verdict.CONFLICT:
            report.conflicts += 1
    return {key: dict(rule.accepted) for key, rule in rules.items()}


def _diff(rows: list[StandingRow], stored: Mapping[str, StoredStanding]) -> tuple[str, ...]:
    """The athletes whose published row differs from ``rows`` (or is missing, or extra)."""
    return standings_change(rows, stored).athletes


def apply_replay(
    session: Session,
    report: ReplayReport,
    revisions: Sequence[Decoded],
    windows: Mapping[int, tuple[int, int]],
    reached: Mapping[int, int],
    *,
    dry_run: bool,
    rulesets: Mapping[str, Ruleset] = RULESETS,
) -> None:
    """Compare (and unless ``dry_run``, repair) the standings of every division seen in the log."""
    positions = repository.lock_positions(session, report.group, report.topic, windows)
    spans = {
        p: Window(p, start, target, reached.get(p, start), positions.get(p)) for p, (start, target) in windows.items()
    }
    report.windows = [spans[p] for p in sorted(spans)]

    in_window = sorted(
        (d for d in revisions if d.msg.partition in spans and spans[d.msg.partition].replayed(d.msg.offset)),
        key=lambda d: (d.msg.partition, d.msg.offset),
    )
    described: dict[DivisionKey, Any] = {}
    infos = projection.load_divisions(session, division_keys(in_window), described)
    standing, applied = _stored_outside(session, spans, set(infos))
    state = StoredState(
        positions={},
        bouts=projection.load_bouts(session, bout_ids(in_window)),
        revisions={k: stored for by_key in standing.values() for k, stored in by_key.items()},
        divisions=infos,
        known_rulesets=frozenset(rulesets),
        # Bracket results are judged against their division's log as the live projector does.
        brackets=brackets.bracket_divisions(session, described),
        rulesets=rulesets,
    )
    plan = plan_batch(in_window, state)
    report.conflicts += len(plan.conflicts)
    report.ignored.update(d.reason for d in plan.dead_letters if d.reason != CONFLICTING_REVISION)
    _add_new(standing, plan)
    # Revisions of registered divisions the live group has passed that have no ``results`` row:
    # dead-lettered when they were applied (e.g. the bout was registered later) or lost since.
    passed = {
        (d.event.bout_id, d.event.revision)
        for d in in_window
        if isinstance(d.event, events.ResultRecorded | events.ResultVoided)
        and (d.event.tournament_id, d.event.division_id) in infos
        and spans[d.msg.partition].live_position is not None
    }
    report.missing_in_results = len(passed - applied)
    changes = _compare(session, report, infos, standing, rulesets, dry_run=dry_run)
    if dry_run or not changes:
        return
    # The live path's writer: the same rows, the same previous_rank rule, then version + NOTIFY.
    projection.write_standings(session, changes)
    divisions.bump_divisions(session, _marks(session, changes, in_window))
    rankings.apply_ranking_effects(session, set(changes), set())
    log.warning("replay_repaired_standings", divisions=sorted(f"{t}/{d}" for t, d in changes))


def _stored_outside(
    session: Session, spans: Mapping[int, Window], keys: Collection[DivisionKey]
) -> tuple[_Chosen, set[RevisionKey]]:
    """The applied revisions outside the window per division (what the plan finds stored), and
    every (bout, revision) with a ``results`` row."""
    outside: _Chosen = {key: {} for key in keys}
    applied: set[RevisionKey] = set()
    for row in repository.stored_results(session, keys):
        applied.add((row.bout_id, row.revision))
        span = spans.get(row.partition)
        if span is None or span.from_database(row.offset):
            stored = StoredRevision(row.kind, row.payload)
            outside[(row.tournament_id, row.division_id)][(row.bout_id, row.revision)] = stored
    return outside, applied


def _add_new(standing: _Chosen, plan: BatchPlan) -> None:
    """Add the revisions the plan applies to those that stand, per division."""
    for r in plan.new_revisions:
        standing[(r.tournament_id, r.division_id)][(r.bout_id, r.revision)] = StoredRevision(r.kind, r.payload)


def _compare(
    session: Session,
    report: ReplayReport,
    infos: Mapping[DivisionKey, DivisionInfo],
    standing: _Chosen,
    rulesets: Mapping[str, Ruleset],
    *,
    dry_run: bool,
) -> dict[DivisionKey, StandingsChange]:
    """Each division's table from the revisions that stand against its published rows; the changes
    that would make them equal, per differing division (also listed in the report)."""
    inputs = projection.load_standings_inputs(session, infos)
    published = projection.load_standings(session, infos)
    changes: dict[DivisionKey, StandingsChange] = {}
    for key in sorted(infos):
        ruleset = rulesets.get(infos[key].ruleset)
        if ruleset is None:
            continue  # its revisions are the plan's unknown_ruleset dead letters: nothing to score
        rows = _table(key, inputs[key], standing[key], ruleset)
        report.divisions += 1
        change = standings_change(rows, published[key])
        if change:
            changes[key] = change
            report.differing.append(DivisionDiff(key[0], key[1], change.athletes, 0 if dry_run else len(change)))
            if not dry_run and inputs[key].bracket is not None:  # its bracket_bouts follow its rows
                repaired = {key: _bracket(key, inputs[key], standing[key], ruleset)}
                brackets.write_projections(session, repaired, {key: inputs[key].positions})
    return changes


def _bracket(
    key: DivisionKey, division: DivisionInput, standing: Mapping[RevisionKey, StoredRevision], ruleset: Ruleset
) -> bracket_division.BracketProjection:
    """A bracket division from the revisions that stand, as the live projector projects it."""
    assert division.bracket is not None
    log = [decode_bracket_revision(bout, revision, s.kind, s.payload) for (bout, revision), s in standing.items()]
    spec = bracket_division.division_bracket(key[1], division.bracket)
    return bracket_division.project(spec, division.bouts, log, ruleset)


def _table(
    key: DivisionKey, division: DivisionInput, standing: Mapping[RevisionKey, StoredRevision], ruleset: Ruleset
) -> list[StandingRow]:
    """The division's standings from the revisions that stand (all of registered bouts of it); a
    bracket division's are its placings, from the same pure projection as the live path."""
    if division.bracket is not None:
        return bracket_division.division_rows(_bracket(key, division, standing, ruleset), ruleset)
    domain = [decode_revision(bout, revision, s.kind, s.payload) for (bout, revision), s in standing.items()]
    return compute_standings(division.entries, division.bouts, effective_results(domain), ruleset)


def _marks(
    session: Session, keys: Collection[DivisionKey], in_window: Iterable[Decoded]
) -> dict[DivisionKey, DivisionMark]:
    """Keep each division's last_* as the live projector set them (only the version moves); a
    division the live group never touched takes them from its latest replayed event."""
    latest: dict[DivisionKey, DivisionMark] = {}
    for d in in_window:  # in log order
        if d.event is not None:
            key = (d.event.tournament_id, d.event.division_id)
            latest[key] = DivisionMark(d.event.occurred_at, d.msg.partition, d.msg.offset)
    states = repository.division_states(session, keys)
    marks: dict[DivisionKey, DivisionMark] = {}
    for key in sorted(keys):
        state = states.get(key)
        if state is not None and state.last_event_at is not None and state.last_partition is not None:
            marks[key] = DivisionMark(state.last_event_at, state.last_partition, state.last_offset or 0)
        else:
            marks[key] = latest[key]  # a division differs only if it has revisions in the window
    return marks


def replay(
    settings: Settings,
    engine: Engine,
    *,
    from_time: dt.datetime | None = None,
    dry_run: bool = False,
    on_progress: ProgressCallback | None = None,
    idle_timeout_s: float = 10.0,
) -> ReplayReport:
    """Replay ``match-events`` (from the beginning, or from ``from_time``) into the standings."""
    started = time.monotonic()
    kafka, group = settings.kafka, settings.projector.group_id
    report = ReplayReport(topic=kafka.topic, group=group, dry_run=dry_run)
    sessions = make_session_factory(engine)
    collector = _Collector(report)
    with LogReader(kafka) as reader:
        with sessions() as session:
            live = repository.group_positions(session, group, kafka.topic)
        windows = plan_windows(reader, kafka.topic, live, from_time)
        reached, report.incomplete_partitions = reader.read(
            kafka.topic, windows, collector, on_progress, idle_timeout_s
        )
    with sessions() as session, session.begin():
        # In a dry run nothing is written: the commit only releases the position locks.
        apply_replay(session, report, collector.revisions, windows, reached, dry_run=dry_run)
    report.seconds = time.monotonic() - started
    log.info(
        "replay_finished",
        dry_run=dry_run,
        messages=report.messages,
        divisions=report.divisions,
        differing=len(report.differing),
        seconds=round(report.seconds, 2),
    )
    return report
