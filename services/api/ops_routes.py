"""Ops endpoints for the rankings index: full reindex (background job) and drift audit.

``POST /v1/ops/reindex`` takes the cross-process reindex lock in the request (so a second caller
gets 409 at once), answers 202 with the job id and runs the build in a background thread;
``GET /v1/ops/reindex/{job}`` reads its progress from ``reindex_jobs`` (any API instance can
answer). Both need the ops (or admin) role.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from elasticsearch import Elasticsearch
from fastapi import APIRouter, FastAPI, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse

from services.api.schemas import problems
from services.core.auth import Principal, Role
from services.core.errors import NotFound, ServiceUnavailable
from services.core.http.auth import require_role
from services.core.logging import get_logger
from services.core.search.breaker import is_unavailable
from services.core.search.client import make_search_client
from services.core.settings import Settings
from services.rankings import jobs as repo
from services.rankings.audit import MAX_SAMPLE, run_audit
from services.rankings.reindex import Reindexer
from services.registration.model import TEXT_PATTERN

log = get_logger(__name__)
router = APIRouter(prefix="/v1/ops", tags=["ops"])
OpsPrincipal = Annotated[Principal, require_role(Role.OPS)]
JOIN_TIMEOUT_S = 10.0


class ReindexAccepted(BaseModel):
    job_id: str
    state: str
    status_url: str


class ReindexJobOut(BaseModel):
    job_id: str
    state: str = Field(description="running | done | failed")
    index_name: str | None
    total: int = Field(description="Documents in the PostgreSQL snapshot")
    done: int = Field(description="Documents bulk-written to the new index")
    caught_up: int = Field(description="Outbox changes applied after the snapshot")
    progress: float = Field(description="done / total (0-1)")
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


class OpsState:
    """The sync search client and the running reindex thread of this API process."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.client: Elasticsearch = make_search_client(settings.search)
        self.reindexer = Reindexer(engine, self.client, settings.search, catch_up_batch=settings.indexer.batch_size)
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start_reindex(self) -> str:
        """Take the lock (raises ReindexAlreadyRunning -> 409) and run the job in a thread."""
        run = self.reindexer.begin()

        def work() -> None:
            try:
                run.execute(stop=self.stop)
            except Exception as exc:  # recorded in reindex_jobs and logged by the run itself
                log.warning("reindex_job_failed", job_id=run.job_id, error=str(exc)[:300])

        thread = threading.Thread(target=work, name=f"reindex-{run.job_id[:8]}", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()
        return run.job_id

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(JOIN_TIMEOUT_S)
        self.client.close()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state = OpsState(app.state.settings, app.state.engine)
    app.state.rankings_ops = state
    try:
        yield
    finally:
        await anyio.to_thread.run_sync(state.close)


def _state(request: Request) -> OpsState:
    state: OpsState = request.app.state.rankings_ops
    return state


@router.post(
    "/reindex",
    status_code=202,
    response_model=ReindexAccepted,
    summary="Rebuild the rankings index from PostgreSQL and swap the alias",
    description="One at a time across all processes: a second request while one runs gets 409.",
    responses=problems(401, 403, 409, 503),
)
async def start_reindex(request: Request, principal: OpsPrincipal) -> JSONResponse:
    state = _state(request)
    job_id = await anyio.to_thread.run_sync(state.start_reindex)
    log.info("reindex_requested", job_id=job_id, token_id=principal.token_id)
    url = f"/v1/ops/reindex/{job_id}"
    return JSONResponse(
        {"job_id": job_id, "state": "running", "status_url": url}, status_code=202, headers={"Location": url}
    )


@router.get(
    "/reindex/{job_id}",
    response_model=ReindexJobOut,
    summary="Progress of a reindex job",
    responses=problems(401, 403, 404),
)
async def reindex_status(
    request: Request, principal: OpsPrincipal, job_id: Annotated[str, Path(max_length=64, pattern=TEXT_PATTERN)]
) -> ReindexJobOut:
    state = _state(request)

    def read() -> repo.JobView | None:
        with Session(state.engine) as session:
            return repo.get_job(session, job_id)

    job = await anyio.to_thread.run_sync(read)
    if job is None:
        raise NotFound(f"reindex job {job_id!r} does not exist")
    return ReindexJobOut(
        job_id=job.job_id,
        state=job.state,
        index_name=job.index_name,
        total=job.total,
        done=job.done,
        caught_up=job.caught_up,
        progress=round(job.done / job.total, 4) if job.total else (1.0 if job.state == "done" else 0.0),
        error=job.error,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@router.get(
    "/audit",
    summary="Compare the rankings index with PostgreSQL",
    description="A random sample of `sample` rows and documents (or every document with `full=true`); "
    "`repair=true` rewrites only the drifted documents. Documents with changes still in flight are "
    "reported as `pending`, not as drift.",
    responses=problems(401, 403, 503),
)
async def audit(
    request: Request,
    principal: OpsPrincipal,
    sample: Annotated[int, Query(ge=1, le=MAX_SAMPLE)] = 1000,
    full: bool = False,
    repair: bool = False,
) -> dict[str, Any]:
    state = _state(request)

    def work() -> dict[str, Any]:
        report = run_audit(
            state.engine, state.client, state.settings.search.alias, sample=None if full else sample, repair=repair
        )
        return report.to_dict()

    try:
        return await anyio.to_thread.run_sync(work)
    except Exception as exc:
        if is_unavailable(exc):
            raise ServiceUnavailable("the search engine is unreachable", retry_after_s=5.0) from None
        raise
