"""Circuit breaker in front of the search engine, with a guaranteed way back.

closed --(``failure_threshold`` consecutive failures)--> open
open --(``half_open_after_s`` elapsed; checked on every use, no restart needed)--> half-open
half-open --(one probe call; others are refused meanwhile)--> closed on success, open again on failure

The lesson of the 8-hours-stale rankings index: a breaker that cannot leave the open state by
itself is an outage waiting for a restart. Here the open -> half-open step is a pure function of
time, evaluated whenever anyone asks for the state, so a probe always happens.

Only unavailability counts as a failure (connection errors, timeouts, 5xx, 429). A 4xx answer
means the engine is up: it closes a half-open breaker and is re-raised to the caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import IntEnum
from typing import TypeVar

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportError
from elasticsearch import ApiError

from services.core import metrics
from services.core.logging import get_logger

T = TypeVar("T")
log = get_logger(__name__)


class BreakerState(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class BreakerOpen(Exception):
    """The breaker refused the call; try again in ``retry_after_s``."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"search engine circuit breaker is open; next probe in {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s


def is_unavailable(exc: BaseException) -> bool:
    """True for errors that mean the engine is down or overloaded (what trips the breaker)."""
    if isinstance(exc, TransportConnectionError | ConnectionTimeout) or getattr(exc, "unavailable", False):
        return True
    if isinstance(exc, ApiError):
        return exc.status_code >= 500 or exc.status_code == 429
    return isinstance(exc, TransportError | OSError)


class CircuitBreaker:
    """Thread-safe breaker. ``export_metrics`` publishes state and transitions (one per process)."""

    def __init__(
        self,
        failure_threshold: int,
        half_open_after_s: float,
        *,
        name: str = "search",
        clock: Callable[[], float] = time.monotonic,
        export_metrics: bool = True,
    ) -> None:
        if failure_threshold < 1 or half_open_after_s <= 0:
            raise ValueError("failure_threshold >= 1 and half_open_after_s > 0 are required")
        self.failure_threshold = failure_threshold
        self.half_open_after_s = half_open_after_s
        self.name = name
        self._clock = clock
        self._export = export_metrics
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self.last_error: str | None = None
        if export_metrics:
            metrics.BREAKER_STATE.set(int(BreakerState.CLOSED))

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._current()

    def retry_after_s(self) -> float:
        """Seconds until the next probe may run (0 when calls are allowed now)."""
        with self._lock:
            state = self._current()
            if state is BreakerState.CLOSED or (state is BreakerState.HALF_OPEN and not self._probe_in_flight):
                return 0.0
            if state is BreakerState.HALF_OPEN:
                return min(1.0, self.half_open_after_s)
            return max(0.0, self._opened_at + self.half_open_after_s - self._clock())

    def before_call(self) -> None:
        """Admit a call or raise :class:`BreakerOpen`; in half-open only one probe is admitted."""
        with self._lock:
            state = self._current()
            if state is BreakerState.CLOSED:
                return
            if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
                self._probe_in_flight = True
                return
            wait = (
                min(1.0, self.half_open_after_s)
                if state is BreakerState.HALF_OPEN
                else max(0.0, self._opened_at + self.half_open_after_s - self._clock())
            )
        raise BreakerOpen(wait)

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._probe_in_flight = False
            self.last_error = None
            if self._current() is not BreakerState.CLOSED:
                self._transition(BreakerState.CLOSED)

    def record_failure(self, error: BaseException | str) -> None:
        with self._lock:
            self.last_error = str(error)[:500]
            state = self._current()
            self._probe_in_flight = False
            if state is BreakerState.HALF_OPEN:
                self._open()
                return
            self._failures += 1
            if state is BreakerState.CLOSED and self._failures >= self.failure_threshold:
                self._open()

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` through the breaker; unavailability errors count, others close it and propagate."""
        self.before_call()
        try:
            result = fn()
        except BaseException as exc:
            if is_unavailable(exc):
                self.record_failure(exc)
            else:
                self.record_success()  # the engine answered
            raise
        self.record_success()
        return result

    # --- internals (lock held) ---------------------------------------------------------------------

    def _current(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.half_open_after_s:
            self._transition(BreakerState.HALF_OPEN)
        return self._state

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._transition(BreakerState.OPEN)

    def _transition(self, to: BreakerState) -> None:
        if to is self._state:
            return
        previous, self._state = self._state, to
        log.info("breaker_transition", breaker=self.name, previous=previous.name, to=to.name, error=self.last_error)
        if self._export:
            metrics.BREAKER_STATE.set(int(to))
            metrics.BREAKER_TRANSITIONS.labels(to=to.name.lower()).inc()
