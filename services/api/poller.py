"""A background poll of PostgreSQL: one bounded read per period in a worker thread, what it read kept
for requests to answer from (no I/O per request); a failed read is logged and retried next period."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Generic, TypeVar

import anyio
from sqlalchemy.exc import SQLAlchemyError

from services.core.logging import get_logger

T = TypeVar("T")
STOP_WAIT_S = 5.0
log = get_logger(__name__)


class Poller(Generic[T]):
    """Subclasses implement ``_read`` (blocking, in a worker thread) and ``_keep`` (on the event loop)."""

    def __init__(self, interval_s: float, *, name: str) -> None:
        self._interval_s = interval_s
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def _read(self) -> T:
        raise NotImplementedError

    def _keep(self, value: T) -> None:
        raise NotImplementedError

    async def refresh(self) -> T:
        """Read now (bounded by five periods, at least 5 s) and keep the result."""
        with anyio.fail_after(max(5.0, self._interval_s * 5)):
            value = await anyio.to_thread.run_sync(self._read, abandon_on_cancel=True)
        self._keep(value)
        return value

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                log.warning("poll_failed", poller=self._name, error=str(exc))
            await asyncio.sleep(self._interval_s)  # a period, not a synchronisation

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(STOP_WAIT_S),
                contextlib.suppress(asyncio.CancelledError),
            ):
                await task
