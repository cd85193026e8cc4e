"""The projector's probes, served by the shared health server (``/livez``, ``/readyz``, ``/metrics``).

A consumer process serves no traffic, so readiness means "consuming and able to write to
PostgreSQL" (it fails while the DB is down and batches are retried), and liveness means "the poll
loop is turning" (it keeps turning while a slow batch runs, because the loop polls while paused).
``/readyz`` reports those checks' states, never an exception's text (that is in the log).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from services.core.http import health_server as shared
from services.core.http.health_server import ProbeResult
from services.core.http.readiness import Readiness

# The older probe shape: (ok, reason). Kept for callers that build the server from such callables.
Probe = Callable[[], tuple[bool, str]]


class LoopState(Protocol):
    """What the probes read of the loop's health (``ProjectorLoop.health``)."""

    running: bool
    db_ok: bool


class ProbedLoop(Protocol):
    """What the probes read of the loop (``ProjectorLoop``)."""

    @property
    def health(self) -> LoopState: ...

    def live(self) -> bool: ...


def liveness(loop: ProbedLoop) -> ProbeResult:
    alive = loop.live()
    return ProbeResult(
        alive, {"status": "ok" if alive else "fail", "reason": "polling" if alive else "poll loop stalled"}
    )


def readiness(loop: ProbedLoop) -> ProbeResult:
    checks = Readiness.of(consuming=loop.health.running, postgres=loop.health.db_ok)
    return ProbeResult(checks.ready, checks.body())


def make_health_server(host: str, port: int, loop: ProbedLoop) -> shared.HealthServer:
    """The shared health server on ``loop``'s probes (what the bootstrap wires)."""
    return shared.HealthServer(
        host, port, live=lambda: liveness(loop), ready=lambda: readiness(loop), name="projector-health"
    )


class HealthServer(shared.HealthServer):
    """The shared health server on ``(ok, reason)`` probes; body ``{"status": "ok"|"fail", "reason": ...}``."""

    def __init__(self, host: str, port: int, *, live: Probe, ready: Probe) -> None:
        def adapt(probe: Probe) -> Callable[[], ProbeResult]:
            def run() -> ProbeResult:
                ok, reason = probe()
                return ProbeResult(ok, {"status": "ok" if ok else "fail", "reason": reason})

            return run

        super().__init__(host, port, live=adapt(live), ready=adapt(ready), name="projector-health")
