"""The projector's tiny HTTP server: ``/livez``, ``/readyz`` and ``/metrics`` (Prometheus).

A consumer process serves no traffic, so readiness means "consuming and able to write to
PostgreSQL" (it fails while the DB is down and batches are retried), and liveness means "the poll
loop is turning" (it keeps turning while a slow batch runs, because the loop polls while paused).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

Probe = Callable[[], tuple[bool, str]]


class HealthServer:
    """Serves the probes on a daemon thread; ``port`` is the bound port (pass 0 for a free one)."""

    def __init__(self, host: str, port: int, *, live: Probe, ready: Probe) -> None:
        probes = {"/livez": live, "/readyz": ready}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                    return
                probe = probes.get(path)
                if probe is None:
                    self._send(404, b'{"status":"not found"}', "application/json")
                    return
                ok, reason = probe()
                body = json.dumps({"status": "ok" if ok else "fail", "reason": reason}).encode()
                self._send(200 if ok else 503, body, "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: no access log
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="projector-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
