"""Full reindex: rebuild the rankings index from PostgreSQL and swap the alias atomically.

1. One at a time across processes: ``pg_try_advisory_lock`` held on a dedicated session connection
   for the whole run (a crash releases it with the connection); a second caller gets
   :class:`ReindexAlreadyRunning` (409).
2. Snapshot at a recorded feed position: one REPEATABLE READ transaction takes its horizon P
   (every feed row of a transaction below it is in the snapshot's data) and streams every ranking
   row.
3. Build ``rankings-v<UTC timestamp>`` with the explicit mapping (refresh off), parallel chunked
   bulk with external versions, refresh, verify the document count.
4. Catch up: apply the feed after P to the new index until nothing is left, swap the alias in
   one ``_aliases`` call, then catch up once more - the live indexer kept writing to the alias (the
   old index) until the swap; whatever it wrote there is in the feed after P, so it reaches the
   new index too. External versions make these double writes (and rows repeated after P) harmless.
5. Move the live indexer's position up to what the new index holds (never backwards).
6. Keep the previous index for rollback; delete older ``rankings-v*`` and orphans of crashed runs.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from services.core import metrics
from services.core.errors import Conflict
from services.core.logging import get_logger
from services.core.search import indices
from services.core.search.bulk import Action, BulkWriter
from services.core.search.mapping import new_index_name
from services.core.settings import SearchSettings
from services.rankings import feed, jobs
from services.rankings import records as ranking_rows
from services.rankings.actions import actions_for
from services.rankings.documents import index_action
from services.rankings.model import FeedPosition

log = get_logger(__name__)

CATCH_UP_ROUNDS = 5
# phase ("bulk" | "catch-up" | "swap" | "done"), done, total
ProgressFn = Callable[[str, int, int], None]


class ReindexAlreadyRunning(Conflict):
    """Another full reindex holds the lock (in this or another process)."""

    type_slug = "reindex-running"

    def __init__(self) -> None:
        super().__init__("a full reindex is already running; watch it with GET /v1/ops/reindex/{job}")


class ReindexFailed(RuntimeError):
    """The new index could not be built or verified; the alias was not touched."""


@dataclass(slots=True)
class ReindexResult:
    job_id: str
    index_name: str
    snapshot_position: FeedPosition
    total: int
    caught_up: int
    previous: str | None
    deleted: list[str] = field(default_factory=list)
    build_s: float = 0.0
    duration_s: float = 0.0

    @property
    def docs_per_s(self) -> float:
        return self.total / self.build_s if self.build_s > 0 else 0.0


class Reindexer:
    """Builds new versioned indices for ``settings.alias`` from PostgreSQL."""

    def __init__(
        self, engine: Engine, client: Elasticsearch, settings: SearchSettings, *, catch_up_batch: int = 2000
    ) -> None:
        self.engine = engine
        self.client = client
        self.settings = settings
        self.catch_up_batch = catch_up_batch

    def begin(self, job_id: str | None = None) -> ReindexRun:
        """Take the reindex lock and record a job; raises :class:`ReindexAlreadyRunning`."""
        conn = self.engine.connect()
        try:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if not conn.scalar(select(func.pg_try_advisory_lock(jobs.REINDEX_LOCK))):
                raise ReindexAlreadyRunning()
            job_id = job_id or uuid.uuid4().hex
            with Session(bind=conn) as session:
                abandoned = jobs.fail_abandoned_jobs(session, "abandoned: its process ended before finishing")
                jobs.create_job(session, job_id)
                session.commit()
            if abandoned:
                log.warning("reindex_abandoned_jobs_failed", count=abandoned)
        except BaseException:
            conn.close()  # closing the session releases the advisory lock too
            raise
        return ReindexRun(self, conn, job_id)

    def run(
        self, progress: ProgressFn | None = None, *, job_id: str | None = None, stop: threading.Event | None = None
    ) -> ReindexResult:
        return self.begin(job_id).execute(progress, stop=stop)


class ReindexRun:
    """One reindex holding the lock; ``execute`` runs it once and releases the lock."""

    def __init__(self, reindexer: Reindexer, lock_conn: Connection, job_id: str) -> None:
        self._r = reindexer
        self._lock_conn = lock_conn
        self.job_id = job_id
        self._last_job_update = 0.0
        self._executed = False

    def release(self) -> None:
        """Give the lock back (idempotent); a job that never ran is recorded as cancelled."""
        conn = self._lock_conn
        if conn.closed:
            return
        try:
            if not self._executed:
                with Session(bind=conn) as session:
                    jobs.update_job(session, self.job_id, state="failed", error="cancelled before it started")
                    session.commit()
            conn.execute(select(func.pg_advisory_unlock(jobs.REINDEX_LOCK)))
        finally:
            conn.close()

    def execute(self, progress: ProgressFn | None = None, *, stop: threading.Event | None = None) -> ReindexResult:
        self._executed = True
        started = time.monotonic()
        client = self._r.client
        new_index = new_index_name(self._r.settings.alias)
        report = progress or (lambda phase, done, total: None)
        metrics.REINDEX_PROGRESS.set(0)
        try:
            self._job(index_name=new_index, state="running")
            indices.create_index(client, new_index, building=True)
            log.info("reindex_started", job_id=self.job_id, index=new_index)
            result = self._build(new_index, report, stop)
            result.duration_s = time.monotonic() - started
        except BaseException as exc:
            metrics.REINDEX_RUNS.labels(outcome="failed").inc()
            log.error("reindex_failed", job_id=self.job_id, index=new_index, error=str(exc))
            self._cleanup_failed(new_index, exc)
            raise
        else:
            self._job(state="done", done=result.total, caught_up=result.caught_up, force=True)
            metrics.REINDEX_RUNS.labels(outcome="ok").inc()
            metrics.REINDEX_PROGRESS.set(1)
            log.info(
                "reindex_done",
                job_id=self.job_id,
                index=new_index,
                docs=result.total,
                caught_up=result.caught_up,
                docs_per_s=round(result.docs_per_s),
                duration_s=round(result.duration_s, 2),
                deleted=result.deleted,
            )
            report("done", result.total, result.total)
            return result
        finally:
            self.release()

    # --- steps ---------------------------------------------------------------------------------------

    def _build(self, new_index: str, report: ProgressFn, stop: threading.Event | None) -> ReindexResult:
        r = self._r
        position, total, build_s = self._snapshot_into(new_index, report, stop)
        snapshot_position = position
        # Rounds against a moving target, bounded: swap once less than a batch is left (or after
        # CATCH_UP_ROUNDS rounds, should writers outpace the engine) so a busy feed cannot hold
        # the swap back forever.
        caught_up = 0
        for _ in range(CATCH_UP_ROUNDS):
            position, caught_up = self._catch_up(new_index, position, self._head(), caught_up, report, stop)
            with Session(r.engine) as session:
                if feed.count_after(session, position) < r.catch_up_batch:
                    break
        report("swap", total, total)
        old = indices.alias_targets(r.client, r.settings.alias)
        position, caught_up = self._swap(new_index, old, position, caught_up, report, stop)
        previous = next((name for name in old if name != new_index), None)
        keep = {new_index, *([previous] if previous else [])}
        stale = [name for name in indices.versioned_indices(r.client, r.settings.alias) if name not in keep]
        deleted = indices.delete_indices(r.client, stale)
        return ReindexResult(
            job_id=self.job_id,
            index_name=new_index,
            snapshot_position=snapshot_position,
            total=total,
            caught_up=caught_up,
            previous=previous,
            deleted=deleted,
            build_s=build_s,
        )

    def _snapshot_into(
        self, new_index: str, report: ProgressFn, stop: threading.Event | None
    ) -> tuple[FeedPosition, int, float]:
        """Stream one REPEATABLE READ snapshot of every ranking row into ``new_index``; returns the
        snapshot's feed position, the document count and the build's seconds."""
        r = self._r
        writer = BulkWriter(r.client, chunk_size=r.settings.bulk_chunk_size, concurrency=r.settings.bulk_concurrency)
        build_started = time.monotonic()
        with r.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                position = feed.snapshot_position(conn)
                total = ranking_rows.count_records(conn)
                self._job(total=total, force=True)
                report("bulk", 0, total)
                done = 0

                def on_chunk(n: int) -> None:
                    nonlocal done
                    done += n
                    metrics.REINDEX_PROGRESS.set(done / total if total else 1.0)
                    self._job(done=done)
                    report("bulk", done, total)

                writer.write_stream(new_index, _snapshot_actions(conn), on_chunk=on_chunk, stop=stop)
        indices.finish_build(r.client, new_index)
        build_s = time.monotonic() - build_started
        count = indices.doc_count(r.client, new_index)
        if count != total:
            raise ReindexFailed(f"{new_index} holds {count} documents, the snapshot has {total}")
        self._job(done=total, force=True)
        return position, total, build_s

    def _swap(
        self,
        new_index: str,
        old: list[str],
        position: FeedPosition,
        caught_up: int,
        report: ProgressFn,
        stop: threading.Event | None,
    ) -> tuple[FeedPosition, int]:
        """Swap the alias, apply what the live indexer wrote to the old index meanwhile, and leave the
        live indexer's position exactly where the new index is complete."""
        r = self._r
        indices.swap_alias(r.client, r.settings.alias, new_index, old)
        # Everything committed up to now may have gone to the old index (the live indexer writes to
        # the alias); what commits later is written through the alias to the new one.
        swapped_at = self._head()
        log.info("reindex_alias_swapped", alias=r.settings.alias, new=new_index, old=old, feed_position=swapped_at)
        try:
            position, caught_up = self._catch_up(new_index, position, swapped_at, caught_up, report, stop)
        finally:
            # Rows after ``position`` may be in the old index only (the live indexer wrote them before
            # the swap, or the catch-up stopped at the horizon): the live indexer sends them again,
            # now through the alias; everything up to ``position`` it need not resend.
            with Session(r.engine) as session, session.begin():
                feed.rewind_position(session, position)
                feed.advance_position(session, position)
        return position, caught_up

    def _head(self) -> FeedPosition:
        with Session(self._r.engine) as session:
            return feed.head(session)

    def _catch_up(
        self,
        index: str,
        position: FeedPosition,
        upto: FeedPosition,
        caught_up: int,
        report: ProgressFn,
        stop: threading.Event | None,
    ) -> tuple[FeedPosition, int]:
        """Apply the feed rows in ``(position, upto]`` (those below the horizon) to ``index``."""
        r = self._r
        writer = BulkWriter(r.client, chunk_size=r.settings.bulk_chunk_size)
        while position < upto:
            if stop is not None and stop.is_set():
                raise InterruptedError("reindex stopped during catch-up")
            with Session(r.engine) as session:
                changes = feed.read_changes(session, position, r.catch_up_batch, upto)
                if not changes:
                    return position, caught_up
                actions = actions_for(session, changes)
            writer.write(index, actions, retry_timeouts=True)
            position = changes[-1].position
            caught_up += len(changes)
            self._job(caught_up=caught_up)
            report("catch-up", caught_up, caught_up)
        return position, caught_up

    def _cleanup_failed(self, new_index: str, exc: BaseException) -> None:
        try:
            self._job(state="failed", error=f"{type(exc).__name__}: {exc}"[:2000], force=True)
        except Exception as job_exc:  # the database may be what failed
            log.error("reindex_job_update_failed", job_id=self.job_id, error=str(job_exc))
        try:
            if new_index not in indices.alias_targets(self._r.client, self._r.settings.alias):
                indices.delete_indices(self._r.client, [new_index])
        except Exception as es_exc:  # the engine may be what failed; the next run removes the orphan
            log.warning("reindex_orphan_left", index=new_index, error=str(es_exc))

    def _job(self, *, force: bool = False, **values: object) -> None:
        """Record progress in ``reindex_jobs`` (at most twice a second unless ``force``)."""
        now = time.monotonic()
        if not force and "state" not in values and now - self._last_job_update < 0.5:
            return
        self._last_job_update = now
        with Session(self._r.engine) as session, session.begin():
            jobs.update_job(session, self.job_id, **values)


def _snapshot_actions(conn: Connection) -> Iterator[Action]:
    for record in ranking_rows.iter_records(conn):
        yield index_action(record)
