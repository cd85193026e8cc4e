"""The shared HTTP scaffolding: readiness states, the request-metrics middleware, the health server."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Scope

from services.core.errors import ServiceUnavailable
from services.core.http.health_server import HealthServer, ProbeResult
from services.core.http.metrics_middleware import UNMATCHED_ROUTE, RequestMetrics
from services.core.http.readiness import FAILING, OK, TIMEOUT, Readiness, check_all

SECRET = "password authentication failed for user standings at db.internal:5432"


def _raises() -> str | None:
    raise ConnectionError(SECRET)


def test_check_all_reports_states_never_the_reasons() -> None:
    release = threading.Event()

    def hangs() -> str | None:
        release.wait(5)
        return None

    probes = {"fine": lambda: None, "reason": lambda: SECRET, "raises": _raises, "slow": hangs}
    try:
        started = time.monotonic()
        result = anyio.run(lambda: check_all(probes, timeout_s=0.3, service="test"))
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert result.checks == {"fine": OK, "reason": FAILING, "raises": FAILING, "slow": TIMEOUT}
    assert list(result.checks) == list(probes)  # the order given, not the order answered
    assert elapsed < 2.0, "probes run concurrently, each bounded"
    assert not result.ready
    with pytest.raises(ServiceUnavailable) as caught:
        result.raise_unless_ready()
    error = caught.value
    assert error.status == 503 and error.extra["checks"] == dict(result.checks)
    assert error.detail == "not ready: raises failing, reason failing, slow timeout"
    assert SECRET not in error.detail and SECRET not in str(error.extra)


def test_readiness_from_flags_and_its_body() -> None:
    ready = Readiness.of(consuming=True, postgres=True)
    assert ready.ready and ready.detail() == "ready" and ready.failing() == {}
    ready.raise_unless_ready()  # no error
    down = Readiness.of(consuming=True, postgres=False)
    assert down.body(extra=1) == {"status": "fail", "checks": {"consuming": OK, "postgres": FAILING}, "extra": 1}
    assert ready.body()["status"] == "ok"


def _metrics_app(seen: list[tuple[str, int]]) -> RequestMetrics:
    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x", status_code=int(request.path_params["code"]))

    def observe(scope: Scope, route: str, status: int) -> None:
        seen.append((route, status))

    inner = Starlette(routes=[Route("/items/{code}", item, methods=["GET", "POST"])])
    return RequestMetrics(inner, service="unit-test", on_response=observe)


def _sample(route: str, status: str) -> float:
    labels = {"service": "unit-test", "route": route, "status": status}
    return REGISTRY.get_sample_value("standings_http_request_duration_seconds_count", labels) or 0.0


def test_request_metrics_label_route_templates_and_call_the_observer() -> None:
    seen: list[tuple[str, int]] = []
    app = _metrics_app(seen)
    before = _sample("/items/{code}", "409"), _sample(UNMATCHED_ROUTE, "404")

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            assert (await client.post("/items/409")).status_code == 409
            assert (await client.get("/nowhere")).status_code == 404

    anyio.run(go)
    assert seen == [("/items/{code}", 409), (UNMATCHED_ROUTE, 404)]
    assert _sample("/items/{code}", "409") == before[0] + 1
    assert _sample(UNMATCHED_ROUTE, "404") == before[1] + 1
    assert _sample("/items/409", "409") == 0.0  # never the raw path


def test_health_server_serves_probes_and_metrics_and_binds_only_when_started() -> None:
    state: dict[str, Any] = {"ready": False}
    server = HealthServer(
        "127.0.0.1",
        0,
        live=lambda: ProbeResult(True, {"status": "ok"}),
        ready=lambda: ProbeResult(state["ready"], {"status": "ok" if state["ready"] else "fail"}),
        name="unit-health",
    )
    assert server.port == 0  # not bound yet: no I/O in the constructor
    with server:
        base = f"http://127.0.0.1:{server.port}"
        assert server.port != 0
        assert httpx.get(f"{base}/livez", timeout=5).json() == {"status": "ok"}
        not_ready = httpx.get(f"{base}/readyz", timeout=5)
        assert not_ready.status_code == 503 and not_ready.json() == {"status": "fail"}
        assert not_ready.headers["cache-control"] == "no-store"
        state["ready"] = True
        assert httpx.get(f"{base}/readyz?verbose=1", timeout=5).status_code == 200
        assert "standings_http_request_duration_seconds" in httpx.get(f"{base}/metrics", timeout=5).text
        assert httpx.get(f"{base}/nope", timeout=5).status_code == 404
    server.stop()  # idempotent
