"""The consumer processes' small HTTP server: ``/livez``, ``/readyz`` and ``/metrics`` (Prometheus).

The projector and the indexer serve no traffic, so they need no ASGI stack: a stdlib threading
server on a daemon thread answers the probes from callables the process passes in. Each probe
returns a :class:`ProbeResult` (200 when ``ok``, else 503) whose body is served as JSON.

No I/O in the constructor: the socket is bound in :meth:`HealthServer.start`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    body: Mapping[str, Any] = field(default_factory=dict)


Probe = Callable[[], ProbeResult]


def _handler(probes: Mapping[str, Probe]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
                return
            probe = probes.get(path)
            if probe is None:
                self._send(404, b'{"status":"not found"}', JSON)
                return
            result = probe()
            self._send(200 if result.ok else 503, orjson.dumps(dict(result.body)), JSON)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # probed every few seconds: no access log
            return

    return Handler


class HealthServer:
    """Serves ``live`` on /livez, ``ready`` on /readyz and the registry on /metrics from a daemon thread.

    ``port`` 0 binds any free port; :attr:`port` is the bound one once started.
    """

    def __init__(self, host: str, port: int, *, live: Probe, ready: Probe, name: str = "health") -> None:
        self._address = (host, port)
        self._probes: dict[str, Probe] = {"/livez": live, "/readyz": ready}
        self._name = name
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self._address[1]
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return self._address[0]

    def start(self) -> HealthServer:
        if self._server is None:
            self._server = ThreadingHTTPServer(self._address, _handler(self._probes))
            self._server.daemon_threads = True
            self._thread = threading.Thread(target=self._server.serve_forever, name=self._name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
