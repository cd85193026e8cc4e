"""Reindex jobs (``reindex_jobs``): one row per run, its progress and outcome."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from services.core.db.schema import ReindexJob

# Session-level advisory lock held by the one running reindex (ASCII "REXX").
REINDEX_LOCK = 0x52455858


@dataclass(frozen=True, slots=True)
class JobView:
    job_id: str
    state: str
    index_name: str | None
    total: int
    done: int
    caught_up: int
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


def create_job(session: Session, job_id: str, state: str = "running") -> None:
    session.add(ReindexJob(job_id=job_id, state=state))
    session.flush()


def update_job(session: Session, job_id: str, **values: object) -> None:
    if values.get("state") in ("done", "failed"):
        values.setdefault("finished_at", func.now())
    session.execute(update(ReindexJob).where(ReindexJob.job_id == job_id).values(**values))


def fail_abandoned_jobs(session: Session, reason: str) -> int:
    """Mark jobs left 'running' by a crashed process as failed (call while holding the reindex lock)."""
    result = session.execute(
        update(ReindexJob)
        .where(ReindexJob.state.in_(("pending", "running")))
        .values(state="failed", error=reason, finished_at=func.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def get_job(session: Session, job_id: str) -> JobView | None:
    row = session.get(ReindexJob, job_id)
    if row is None:
        return None
    return JobView(
        row.job_id,
        row.state,
        row.index_name,
        row.total,
        row.done,
        row.caught_up,
        row.error,
        row.started_at,
        row.finished_at,
    )
