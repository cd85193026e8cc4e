"""The indexer's probes, served by the shared health server (``/livez``, ``/readyz``, ``/metrics``).

``/readyz`` tells the truth about derived-data freshness: 503 ``degraded`` while the breaker is
not closed, the alias is missing, or the oldest unindexed change is older than the SLO. It names
the failing checks and their states, never an exception's text (that is in the log).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.core.http import health_server
from services.core.http.health_server import ProbeResult
from services.core.http.readiness import Readiness
from services.indexer.loop import IndexerStatus

# The loop beats at least every poll interval; a long rebuild beats on every chunk.
LIVENESS_STALE_S = 120.0

StatusSource = Callable[[], IndexerStatus]


def readiness(status: IndexerStatus, slo_s: float) -> tuple[int, dict[str, Any]]:
    reasons = []
    if status.breaker.name != "CLOSED":
        reasons.append(f"search breaker {status.breaker.name.lower().replace('_', '-')}")
    if not status.alias_ok:
        reasons.append("rankings alias not verified")
    if status.freshness_s > slo_s:
        reasons.append(f"index {status.freshness_s:.0f} s behind (SLO {slo_s:.0f} s)")
    checks = Readiness.of(
        search_breaker=status.breaker.name == "CLOSED", alias=status.alias_ok, freshness=status.freshness_s <= slo_s
    )
    body = {
        "status": "ok" if not reasons else "degraded",
        "reasons": reasons,
        "checks": dict(checks.checks),
        "breaker": status.breaker.name.lower(),
        "freshness_s": round(status.freshness_s, 3),
        "pending_changes": status.pending,
        "freshness_slo_s": slo_s,
        "last_error": status.last_error.split(":", 1)[0] if status.last_error else None,  # the class name only
    }
    return (200 if not reasons else 503), body


def liveness(status: IndexerStatus) -> ProbeResult:
    alive = status.heartbeat_age_s < LIVENESS_STALE_S
    return ProbeResult(
        alive, {"status": "ok" if alive else "stuck", "heartbeat_age_s": round(status.heartbeat_age_s, 3)}
    )


class HealthServer(health_server.HealthServer):
    """The shared health server on the indexer's status (port 0: any free port, see ``port``)."""

    def __init__(self, host: str, port: int, status: StatusSource, slo_s: float) -> None:
        def ready() -> ProbeResult:
            code, body = readiness(status(), slo_s)
            return ProbeResult(code == 200, body)

        super().__init__(host, port, live=lambda: liveness(status()), ready=ready, name="indexer-health")
