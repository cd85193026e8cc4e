"""The indexer's HTTP face: ``/livez``, ``/readyz``, ``/metrics`` on a small stdlib server.

``/readyz`` tells the truth about derived-data freshness: 503 ``degraded`` while the breaker is
not closed, the alias is missing, or the oldest unindexed change is older than the SLO.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from services.indexer.loop import IndexerStatus

# The loop beats at least every poll interval; a long rebuild beats on every chunk.
LIVENESS_STALE_S = 120.0


def readiness(status: IndexerStatus, slo_s: float) -> tuple[int, dict[str, Any]]:
    reasons = []
    if status.breaker.name != "CLOSED":
        reasons.append(f"search breaker {status.breaker.name.lower().replace('_', '-')}")
    if not status.alias_ok:
        reasons.append("rankings alias not verified")
    if status.freshness_s > slo_s:
        reasons.append(f"index {status.freshness_s:.0f} s behind (SLO {slo_s:.0f} s)")
    body = {
        "status": "ok" if not reasons else "degraded",
        "reasons": reasons,
        "breaker": status.breaker.name.lower(),
        "freshness_s": round(status.freshness_s, 3),
        "pending_changes": status.pending,
        "freshness_slo_s": slo_s,
        "last_error": status.last_error,
    }
    return (200 if not reasons else 503), body


class HealthServer:
    """Serves health on ``host:port`` (port 0: any free port, see ``port``) from a daemon thread."""

    def __init__(self, host: str, port: int, status: Callable[[], IndexerStatus], slo_s: float) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                elif path == "/livez":
                    st = outer._status()
                    alive = st.heartbeat_age_s < LIVENESS_STALE_S
                    body = {"status": "ok" if alive else "stuck", "heartbeat_age_s": round(st.heartbeat_age_s, 3)}
                    self._send(200 if alive else 503, orjson.dumps(body), "application/json")
                elif path == "/readyz":
                    code, body = readiness(outer._status(), outer._slo_s)
                    self._send(code, orjson.dumps(body), "application/json")
                else:
                    self._send(404, b'{"status":"not found"}', "application/json")

            def _send(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._status = status
        self._slo_s = slo_s
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="indexer-health", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
