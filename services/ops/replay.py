"""Replay: rebuild division standings from the ``match-events`` log and repair PostgreSQL.

The live group is not disturbed: the log is read with ``assign()`` under a throwaway group id (no
group join, no offset commit), and the only lock taken is a short one at the end.

1. **Read** each partition from its start (the log start, or the first offset at ``--from-time``) up
   to a target captured up front: the high watermark or the live projector's position, whichever
   is further (tansu under-reports watermarks).
2. **Recompute in memory** with the pure domain, applying the projector's rules: the first payload
   of a (bout, revision) in log order wins (``FirstAppliedWins``, as in ``plan_batch``), events for
   unknown bouts, divisions or rulesets count for nothing (the live projector dead-letters them),
   poison messages are counted and skipped.
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
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.core import events
from services.core.db import projection
from services.core.db.engine import make_session_factory
from services.core.db.projection import DivisionInput
from services.core.domain.codec import StoredRevision, decode_revision, encode_revision
from services.core.domain.first_applied import FirstAppliedWins, RevisionKey, Verdict
from services.core.domain.projection import DivisionInfo, DivisionKey, DivisionMark
from services.core.domain.results import Revision, effective_results
from services.core.domain.ruleset import Ruleset, UnknownRuleset, get_ruleset
from services.core.domain.standings import (
    StandingRow,
    StandingsChange,
    StoredStanding,
    compute_standings,
    standings_change,
)
from services.core.kafka.consumer import consumer_conf
from services.core.logging import get_logger
from services.core.settings import ConsumerSettings, KafkaSettings, Settings
from services.ops import repository
from services.rankings import rerank as rankings

log = get_logger(__name__)

ProgressCallback = Callable[[int, int], None]


class ReplayError(RuntimeError):
    """The log could not be read (broker unreachable, topic missing)."""


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
    ignored: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    # Revisions read from the log, already passed by the live group, with no row in ``results``.
    missing_in_results: int = 0
    divisions: int = 0
    differing: list[DivisionDiff] = field(default_factory=list)
    incomplete_partitions: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def equal(self) -> bool:
        """True when every replayed division's stored standings equalled the log's (before any repair)."""
        return not self.differing


# --- reading the log ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoggedRevision:
    key: DivisionKey
    bout_id: str
    revision: int
    stored: StoredRevision
    partition: int
    offset: int
    occurred_at: dt.datetime


class LogReader:
    """Reads a topic with ``assign()`` and a throwaway group id: never joins a group, never commits."""

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 10.0) -> None:
        self._kafka = kafka
        self._timeout_s = timeout_s
        self._client: Consumer | None = None

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _consumer(self) -> Consumer:
        if self._client is None:
            conf = consumer_conf(self._kafka, f"standings-replay-{uuid.uuid4().hex[:12]}", ConsumerSettings())
            conf["enable.partition.eof"] = True
            self._client = Consumer(conf)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def partitions(self, topic: str) -> list[int]:
        try:
            meta = self._consumer().list_topics(topic, timeout=self._timeout_s).topics.get(topic)
        except KafkaException as exc:
            raise ReplayError(f"cannot reach Kafka at {self._kafka.bootstrap_servers}: {exc}") from exc
        if meta is None or meta.error is not None or not meta.partitions:
            raise ReplayError(f"topic {topic} does not exist on {self._kafka.bootstrap_servers}")
        return sorted(meta.partitions)

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        low, high = self._consumer().get_watermark_offsets(
            TopicPartition(topic, partition), timeout=self._timeout_s, cached=False
        )
        return int(low), int(high)

    def offset_at(self, topic: str, partition: int, when: dt.datetime, default: int) -> int:
        """First offset whose timestamp is >= ``when`` (``default`` when there is none)."""
        millis = int(when.timestamp() * 1000)
        (found,) = self._consumer().offsets_for_times(
            [TopicPartition(topic, partition, millis)], timeout=self._timeout_s
        )
        return int(found.offset) if found.offset >= 0 else default

    def read(
        self,
        topic: str,
        windows: Mapping[int, tuple[int, int]],
        on_message: Callable[[Message], None],
        on_progress: ProgressCallback | None = None,
        idle_timeout_s: float = 10.0,
    ) -> tuple[dict[int, int], list[int]]:
        """Read each partition from ``start`` until ``target`` (or its end); returns the next offset
        reached per partition and the partitions given up on after ``idle_timeout_s`` without data."""
        consumer = self._consumer()
        reached = {p: start for p, (start, _) in windows.items()}
        todo = {p for p, (start, target) in windows.items() if start < target}
        total = sum(max(0, target - start) for start, target in windows.values())
        done_count = 0
        if not todo:
            return reached, []
        consumer.assign([TopicPartition(topic, p, windows[p][0]) for p in sorted(todo)])
        last_data = time.monotonic()
        try:
            while todo:
                batch = consumer.consume(num_messages=1000, timeout=0.5)
                if not batch and time.monotonic() - last_data > idle_timeout_s:
                    break
                for msg in batch:
                    p = msg.partition()
                    assert p is not None
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            todo.discard(p)  # at the end of the log: nothing more to read
                            continue
                        raise ReplayError(f"reading {topic}[{p}]: {err}")
                    offset = msg.offset()
                    assert offset is not None
                    if p not in todo or offset < reached[p]:
                        continue
                    last_data = time.monotonic()
                    on_message(msg)
                    done_count += offset + 1 - reached[p]
                    reached[p] = offset + 1
                    if reached[p] >= windows[p][1]:
                        todo.discard(p)
                if on_progress is not None:
                    on_progress(min(done_count, total), total)
        finally:
            consumer.unassign()
        if on_progress is not None:
            on_progress(total, total)
        return reached, sorted(todo)


class _Collector:
    """Decodes messages into revisions per division (first payload per (bout, revision) wins)."""

    def __init__(self, report: ReplayReport) -> None:
        self._report = report
        self.revisions: list[LoggedRevision] = []

    def __call__(self, msg: Message) -> None:
        self._report.messages += 1
        try:
            event = events.decode(msg.value())
        except events.PoisonMessage as exc:
            self._report.poison[exc.reason] += 1
            return
        self._report.events[type(event).__name__] += 1
        if not isinstance(event, events.ResultRecorded | events.ResultVoided):
            return  # tournament_finalized: no effect on standings
        partition, offset = msg.partition(), msg.offset()
        assert partition is not None and offset is not None
        self.revisions.append(
            LoggedRevision(
                key=(event.tournament_id, event.division_id),
                bout_id=event.bout_id,
                revision=event.revision,
                stored=encode_revision(event.to_domain()),
                partition=partition,
                offset=offset,
                occurred_at=event.occurred_at,
            )
        )


# --- recompute and write --------------------------------------------------------------------------


def plan_windows(
    reader: LogReader,
    topic: str,
    live_positions: Mapping[int, int],
    from_time: dt.datetime | None,
) -> dict[int, tuple[int, int]]:
    """partition -> (start, target)."""
    windows: dict[int, tuple[int, int]] = {}
    for p in reader.partitions(topic):
        low, high = reader.watermarks(topic, p)
        start = low if from_time is None else max(low, reader.offset_at(topic, p, from_time, default=high))
        windows[p] = (start, max(high, live_positions.get(p, 0)))
    return windows


_Entry = tuple[int, int, DivisionKey, str, int, StoredRevision]  # partition, offset, division, bout, revision
_Chosen = dict[DivisionKey, dict[RevisionKey, StoredRevision]]  # the revisions that stand, per division


def _first_in_log(entries: Iterable[_Entry], report: ReplayReport) -> _Chosen:
    """The projector's rule in log order: the first payload per (bout, revision) wins, a later
    different one is a conflict (counted), a later equal one a duplicate."""
    rules: dict[DivisionKey, FirstAppliedWins] = {}
    for _, _, key, bout_id, revision, stored in sorted(entries, key=lambda e: (e[0], e[1])):
        if rules.setdefault(key, FirstAppliedWins()).offer((bout_id, revision), stored).verdict is Verdict.CONFLICT:
            report.conflicts += 1
    return {key: dict(rule.accepted) for key, rule in rules.items()}


def _diff(rows: list[StandingRow], stored: Mapping[str, StoredStanding]) -> tuple[str, ...]:
    """The athletes whose published row differs from ``rows`` (or is missing, or extra)."""
    return standings_change(rows, stored).athletes


def _mark(state: repository.DivisionState | None, latest: LoggedRevision | None) -> DivisionMark:
    """Keep the division's last_* as the live projector set them (only the version moves); a
    division the live group never touched takes them from its latest replayed event."""
    if state is not None and state.last_event_at is not None and state.last_partition is not None:
        return DivisionMark(state.last_event_at, state.last_partition, state.last_offset or 0)
    assert latest is not None  # a division differs only if it has revisions in the window
    return DivisionMark(latest.occurred_at, latest.partition, latest.offset)


def apply_replay(
    session: Session,
    report: ReplayReport,
    revisions: list[LoggedRevision],
    windows: Mapping[int, tuple[int, int]],
    reached: Mapping[int, int],
    *,
    dry_run: bool,
) -> None:
    """Compare (and unless ``dry_run``, repair) the standings of every division seen in the log."""
    positions = repository.lock_positions(session, report.group, report.topic, windows)
    spans = {
        p: Window(p, start, target, reached.get(p, start), positions.get(p)) for p, (start, target) in windows.items()
    }
    report.windows = [spans[p] for p in sorted(spans)]

    in_window = [r for r in revisions if r.partition in spans and spans[r.partition].replayed(r.offset)]
    infos = projection.load_divisions(session, {r.key for r in in_window})
    report.ignored["unknown_division"] += sum(1 for r in in_window if r.key not in infos)
    in_window = [r for r in in_window if r.key in infos]
    chosen, applied = _choose(session, report, in_window, spans, set(infos))
    # Revisions the live group has passed that have no ``results`` row: dead-lettered when they were
    # applied (e.g. the bout was registered later) or lost since. The replay counts those whose bout is
    # registered now, so they explain a difference.
    passed = {(r.bout_id, r.revision) for r in in_window if spans[r.partition].live_position is not None}
    report.missing_in_results = len(passed - applied)
    changes = _compare(session, report, infos, chosen, dry_run=dry_run)
    if dry_run or not changes:
        return
    # The live path's writer: the same rows, the same previous_rank rule, then version + NOTIFY.
    projection.write_standings(session, changes)
    projection.bump_divisions(session, _marks(session, changes, in_window))
    rankings.apply_ranking_effects(session, set(changes), set())
    log.warning("replay_repaired_standings", divisions=sorted(f"{t}/{d}" for t, d in changes))


def _choose(
    session: Session,
    report: ReplayReport,
    in_window: Iterable[LoggedRevision],
    spans: Mapping[int, Window],
    keys: Collection[DivisionKey],
) -> tuple[_Chosen, set[RevisionKey]]:
    """The revisions that stand per division (the window's from the log, the others from ``results``),
    and every (bout, revision) with a ``results`` row."""
    entries: list[_Entry] = [(r.partition, r.offset, r.key, r.bout_id, r.revision, r.stored) for r in in_window]
    applied: set[RevisionKey] = set()
    for row in repository.stored_results(session, keys):
        applied.add((row.bout_id, row.revision))
        span = spans.get(row.partition)
        if span is None or span.from_database(row.offset):
            key = (row.tournament_id, row.division_id)
            entries.append(
                (row.partition, row.offset, key, row.bout_id, row.revision, StoredRevision(row.kind, row.payload))
            )
    return _first_in_log(entries, report), applied


def _compare(
    session: Session, report: ReplayReport, infos: Mapping[DivisionKey, DivisionInfo], chosen: _Chosen, *, dry_run: bool
) -> dict[DivisionKey, StandingsChange]:
    """Each division's table from the chosen revisions against its published rows; the changes that
    would make them equal, per differing division (also listed in the report)."""
    inputs = projection.load_standings_inputs(session, infos)
    published = projection.load_standings(session, infos)
    changes: dict[DivisionKey, StandingsChange] = {}
    for key in sorted(infos):
        try:
            ruleset = get_ruleset(infos[key].ruleset)
        except UnknownRuleset:
            report.ignored["unknown_ruleset"] += len(chosen.get(key, {}))
            continue
        rows = _table(report, inputs[key], chosen.get(key, {}), ruleset)
        report.divisions += 1
        change = standings_change(rows, published[key])
        if change:
            changes[key] = change
            report.differing.append(DivisionDiff(key[0], key[1], change.athletes, 0 if dry_run else len(change)))
    return changes


def _table(
    report: ReplayReport, division: DivisionInput, chosen: Mapping[RevisionKey, StoredRevision], ruleset: Ruleset
) -> list[StandingRow]:
    """The division's standings from its chosen revisions (those of unregistered bouts count for nothing)."""
    bout_ids = {b.bout_id for b in division.bouts}
    domain: list[Revision] = []
    for (bout_id, revision), stored in chosen.items():
        if bout_id not in bout_ids:
            report.ignored["unknown_bout"] += 1
            continue
        domain.append(decode_revision(bout_id, revision, stored.kind, stored.payload))
    return compute_standings(division.entries, division.bouts, effective_results(domain), ruleset)


def _marks(
    session: Session, keys: Collection[DivisionKey], in_window: Iterable[LoggedRevision]
) -> dict[DivisionKey, DivisionMark]:
    latest = {r.key: r for r in sorted(in_window, key=lambda r: (r.partition, r.offset))}
    states = repository.division_states(session, keys)
    return {key: _mark(states.get(key), latest.get(key)) for key in sorted(keys)}


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
