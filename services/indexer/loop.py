"""The rankings-indexer process: the rankings stage, then the change feed -> the search index.

Each step first re-ranks the categories the projector asked for (``rerank.process_requests``:
PostgreSQL only, so it goes on while the search engine is away), then reads feed rows after the
stored position (``services.rankings.feed``), coalesces them per document, loads the documents'
current rows and bulk-writes them to the alias through the circuit breaker. The position moves
only after the bulk succeeded; while the breaker is open nothing moves and the freshness gauge
keeps growing.

Freshness is measured on the feed and the requests, not on the loop: ``INDEX_FRESHNESS_SECONDS``
is the age of the oldest change not yet indexed (0 when caught up), ``INDEX_PENDING_CHANGES`` their
count.

Recovery without restart: when the alias is missing (the engine came back empty, or someone
deleted it) the indexer rebuilds the index from PostgreSQL (a full reindex), then carries on.
It also runs the daily ranking recompute when the UTC date changes (expired awards drop out).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from elasticsearch import Elasticsearch
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from services.core import metrics, tracing
from services.core.db.engine import libpq_conninfo
from services.core.logging import get_logger
from services.core.search import indices
from services.core.search.breaker import BreakerOpen, BreakerState, CircuitBreaker, is_unavailable
from services.core.search.bulk import Action, BulkItemErrors, BulkWriter
from services.core.settings import Settings
from services.rankings import feed, rerank
from services.rankings.actions import actions_for
from services.rankings.model import Backlog, utc_today
from services.rankings.ports import SearchWriter
from services.rankings.reindex import ReindexAlreadyRunning, Reindexer

log = get_logger(__name__)

OUTBOX_RETENTION = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class IndexerStatus:
    """What /readyz reports."""

    breaker: BreakerState
    freshness_s: float
    pending: int
    alias_ok: bool
    heartbeat_age_s: float
    last_error: str | None


class ChangeListener:
    """Wakes the loop on ``NOTIFY ranking_changes`` (sent at commit by every feed writer and re-rank request).

    Falls back to plain polling while the notification connection is down.
    """

    def __init__(self, sqlalchemy_url: str, connect_timeout_s: int) -> None:
        self._conninfo = libpq_conninfo(make_url(sqlalchemy_url))
        self._connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Return on a notification, after ``timeout`` seconds, or when ``stop`` is set."""
        if stop.is_set():
            return
        try:
            conn = self._connect()
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                break
        except psycopg.Error as exc:
            log.warning("change_listener_down", error=str(exc))
            self.close()
            stop.wait(timeout)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=self._connect_timeout_s)
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(feed.NOTIFY_CHANNEL)))
            self._conn = conn
        return self._conn


class RankingsIndexer:
    """One indexer process; ``run(stop)`` until ``stop`` is set. ``step()`` is one batch (tests)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        client: Elasticsearch,
        *,
        breaker: CircuitBreaker | None = None,
        writer: SearchWriter | None = None,
        alias_check_interval_s: float = 5.0,
        today: Callable[[], dt.date] = utc_today,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.client = client
        self.alias = settings.search.alias
        self.breaker = breaker or CircuitBreaker(
            settings.search.breaker_failure_threshold, settings.search.breaker_half_open_after_s
        )
        self.writer: SearchWriter = writer or BulkWriter(client, chunk_size=settings.search.bulk_chunk_size)
        self.reindexer = Reindexer(engine, client, settings.search, catch_up_batch=settings.indexer.batch_size)
        self._alias_check_interval_s = alias_check_interval_s
        self._today = today
        self._alias_checked_at = float("-inf")
        self._alias_ok = False
        self._recomputed_on: dt.date | None = None
        self._heartbeat = time.monotonic()
        self._stop: threading.Event | None = None
        self._freshness_s = 0.0
        self._pending = 0
        self.last_error: str | None = None

    # --- status ------------------------------------------------------------------------------------

    def status(self) -> IndexerStatus:
        return IndexerStatus(
            breaker=self.breaker.state,
            freshness_s=self._freshness_s,
            pending=self._pending,
            alias_ok=self._alias_ok,
            heartbeat_age_s=time.monotonic() - self._heartbeat,
            last_error=self.last_error,
        )

    def refresh_freshness(self) -> Backlog:
        """Read the backlog (feed and re-rank requests) and publish the freshness gauges."""
        with Session(self.engine) as session:
            backlog = feed.backlog(session)
        self._publish(backlog)
        return backlog

    def _publish(self, backlog: Backlog) -> None:
        self._freshness_s = backlog.age_s()
        self._pending = backlog.pending
        metrics.INDEX_FRESHNESS_SECONDS.set(self._freshness_s)
        metrics.INDEX_PENDING_CHANGES.set(self._pending)

    # --- the loop ----------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Index until ``stop`` is set; every failure is logged, measured and retried, none is fatal."""
        listener = ChangeListener(self.settings.database.sqlalchemy_url(), self.settings.database.connect_timeout_s)
        poll = self.settings.indexer.poll_interval_s
        self._stop = stop
        log.info("indexer_started", alias=self.alias, poll_interval_s=poll)
        backoff = poll
        try:
            while not stop.is_set():
                self._heartbeat = time.monotonic()
                wait: float | None = None
                try:
                    if not self._alias_ok:
                        self.check_alias(force=True)
                    self.maybe_recompute()
                    processed = self.step()
                    backoff = poll
                    if processed == 0:
                        listener.wait(poll, stop)
                    continue
                except BreakerOpen as exc:
                    wait = min(max(exc.retry_after_s, 0.05), 1.0)
                except (BulkItemErrors, SQLAlchemyError, ReindexAlreadyRunning) as exc:
                    self._note_error(exc)
                    wait = backoff
                    backoff = min(backoff * 2, 5.0)
                except Exception as exc:
                    if not is_unavailable(exc):
                        log.exception("indexer_step_failed")
                    self._note_error(exc)
                    wait = backoff
                    backoff = min(backoff * 2, 5.0)
                try:
                    self.refresh_freshness()
                except SQLAlchemyError as exc:
                    self._note_error(exc)
                stop.wait(wait)
        finally:
            listener.close()
            log.info("indexer_stopped")

    def _note_error(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("indexer_step_error", error=self.last_error, breaker=self.breaker.state.name)

    def step(self) -> int:
        """Re-rank what is waiting, then index one batch of feed rows; returns how much was done
        (0: nothing pending). Raises when the batch could not be written; the position is then
        left where it was."""
        reranked = rerank.process_requests(self.engine, self._today(), self.settings.indexer.rerank_batch)
        wait = self.breaker.retry_after_s()
        if wait > 0:  # open: do not even read the feed
            raise BreakerOpen(wait)
        with Session(self.engine) as session:
            position = feed.get_position(session)
            changes = feed.read_changes(session, position, self.settings.indexer.batch_size)
            actions = actions_for(session, changes) if changes else []
        if not changes:
            if not reranked:
                self._publish(Backlog(0, None))
            self.check_alias()
            return reranked
        self.refresh_freshness()
        with tracing.tracer(__name__).start_as_current_span(
            "rankings bulk write", attributes={"documents": len(actions)}
        ):
            written = self.breaker.call(lambda: self._write(actions))
        if not written:
            self._rebuild()  # outside the breaker: a database error here is not the engine's answer
        with Session(self.engine) as session, session.begin():
            feed.advance_position(session, changes[-1].position)
        self.refresh_freshness()
        self.last_error = None
        return len(changes) + reranked

    def _write(self, actions: list[Action]) -> bool:
        """Bulk-write through the alias; False when the alias is gone (the caller rebuilds, and the
        rebuild's snapshot holds these documents' current state)."""
        try:
            self.writer.write(self.alias, actions, require_alias=True)
        except BulkItemErrors as exc:
            if not exc.missing_index:
                raise
            log.warning("index_alias_missing", alias=self.alias, error=str(exc))
            self._alias_ok = False
            return False
        self._alias_ok = True
        return True

    def check_alias(self, *, force: bool = False) -> None:
        """Every few seconds (and on startup) make sure the alias exists; rebuild when it does not."""
        now = time.monotonic()
        due = now - self._alias_checked_at >= self._alias_check_interval_s
        if not (force or due or self.breaker.state is BreakerState.HALF_OPEN):
            return

        def probe() -> bool:
            return bool(indices.alias_targets(self.client, self.alias))

        self._alias_ok = self.breaker.call(probe)
        self._alias_checked_at = time.monotonic()
        if not self._alias_ok:
            log.warning("index_alias_missing", alias=self.alias)
            self._rebuild()

    def _rebuild(self) -> None:
        def beat(phase: str, done: int, total: int) -> None:
            self._heartbeat = time.monotonic()

        result = self.reindexer.run(beat, stop=self._stop)
        self._alias_ok = True
        log.info("index_rebuilt", index=result.index_name, docs=result.total)

    def maybe_recompute(self) -> None:
        """The daily recompute, once per UTC date (and once at startup): only changed rows go out."""
        today = self._today()
        if self._recomputed_on == today:
            return
        with Session(self.engine) as session:
            categories = rerank.ranking_categories(session)
        changed = 0
        for category in categories:  # one short transaction (and category lock) per category
            with Session(self.engine) as session, session.begin():
                changed += rerank.recompute_category(session, category, today)
        with Session(self.engine) as session, session.begin():
            pruned = feed.prune_changes(session, OUTBOX_RETENTION)
        self._recomputed_on = today
        log.info("rankings_recomputed", ranking_date=today.isoformat(), changed=changed, outbox_pruned=pruned)
