"""Process lifecycle shared by the four mains: stop on SIGTERM/SIGINT, wait for PostgreSQL.

PostgreSQL may come up after a service (Compose, a rolling restart): a main waits for it with
backoff — not ready meanwhile — instead of exiting into a crash loop, and a SIGTERM during that
wait ends it at once (the backoff sleeps on the stop event). An unmigrated database is not waited
for: :class:`~services.core.db.migrate.DatabaseNotMigrated` is a deployment error and surfaces.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from sqlalchemy import Engine
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from services.core.db.errors import DATABASE_DOWN_ERRORS
from services.core.db.migrate import require_migrated
from services.core.logging import get_logger

log = get_logger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(
    service: str, stop: threading.Event | None = None, *, on_stop: Callable[[], None] | None = None
) -> Iterator[threading.Event]:
    """Within the block SIGTERM/SIGINT set ``stop`` (yielded; a new event unless given) and call ``on_stop``.

    The previous handlers come back on exit. Off the main thread (tests running a main in a thread)
    no handler is installed: the caller sets the event itself.
    """
    event = stop if stop is not None else threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("stop_signal", service=service, signal=signal.Signals(signum).name)
        event.set()
        if on_stop is not None:
            on_stop()

    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, on_signal)
    try:
        yield event
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def wait_for_database(
    engine: Engine,
    stop: threading.Event,
    *,
    service: str,
    max_backoff_s: float = 5.0,
    check: Callable[[Engine], None] = require_migrated,
) -> bool:
    """Retry ``check(engine)`` while PostgreSQL is unreachable; True once it passed, False if ``stop`` was set.

    Backoff is exponential (0.2 s doubling up to ``max_backoff_s``) and sleeps on ``stop``, so a
    SIGTERM during the wait returns within moments. Errors other than "database down" propagate.
    """

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.warning("waiting_for_database", service=service, attempt=state.attempt_number, error=type(error).__name__)

    def pause(seconds: float) -> None:
        stop.wait(seconds)  # a SIGTERM ends the pause at once

    retrying = Retrying(
        retry=retry_if_exception_type(DATABASE_DOWN_ERRORS),
        wait=wait_exponential(multiplier=0.2, max=max_backoff_s),
        stop=lambda _state: stop.is_set(),
        sleep=pause,
        before_sleep=before_sleep,
        reraise=True,
    )
    if stop.is_set():
        return False
    try:
        retrying(check, engine)
    except DATABASE_DOWN_ERRORS:
        if stop.is_set():
            log.info("database_wait_stopped", service=service)
            return False
        raise
    return not stop.is_set()
