"""One POST of a result is one trace: the intake's request span, its produce, the projector's batch
(a child of the message's context and linked to it) and the standings NOTIFY, with the same trace id
on the intake's and the projector's log lines. Real tansu and PostgreSQL; spans kept in memory."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import httpx
import pytest
import structlog
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.orm import Session

from services.core import tracing
from services.core.db.tokens import create_token
from services.core.logging import configure_logging
from services.core.settings import TracingSettings
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.waiting import wait_until
from services.intake.app import create_app
from tests.integration.projector_env import ProjectorEnv, projector_environment, running
from tests.projector_support import build_registration
from tests.read_api_helpers import UvicornThread

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    tracing.install(tracing.build_provider(TracingSettings(), "test", exporter=spans))
    try:
        yield spans
    finally:
        tracing.install(tracing.build_provider(TracingSettings(), "test"))


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The product's logging (configure_logging, at debug) into a buffer, for the modules under test:
    their module-level loggers are replaced by fresh ones (a logger binds its configuration on first
    use), and everything is put back afterwards."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging("DEBUG", json=True)  # the projector logs batch_applied at debug
    for name, module in list(sys.modules.items()):
        if name.startswith("services.") and hasattr(module, "log") and hasattr(module.log, "info"):
            monkeypatch.setattr(module, "log", structlog.get_logger(name))
    try:
        yield out
    finally:
        structlog.configure(**saved)
        root.handlers[:], root.level = handlers, level


@pytest.fixture
def env(pg: EmbeddedPostgres, kafka: TansuBroker) -> Iterator[ProjectorEnv]:
    with projector_environment(pg, kafka, prefix="trace", partitions=1) as environment:
        yield environment


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _one(spans: list[ReadableSpan], kind: SpanKind, name_part: str) -> ReadableSpan:
    found = [s for s in spans if s.kind is kind and name_part in s.name]
    assert len(found) == 1, [(s.name, s.kind) for s in spans]
    return found[0]


def test_one_post_is_one_trace_from_the_request_to_the_notify(
    env: ProjectorEnv, exporter: InMemorySpanExporter, log_lines: io.StringIO
) -> None:
    reg = build_registration("tr", tournaments=1, divisions=1, athletes=3)
    env.register(reg)
    tournament = str(reg.tournaments[0]["tournament_id"])
    bout = str(reg.bouts[0]["bout_id"])
    with Session(env.engine) as session, session.begin():
        _, token = create_token(
            session, "referee", "referee", [tournament], pepper=env.settings.token_pepper.get_secret_value()
        )
    intake = UvicornThread(create_app(env.settings))
    intake.start()
    try:
        with running(env.settings, env.engine):
            resp = httpx.post(
                f"{intake.url}/v1/tournaments/{tournament}/bouts/{bout}/results",
                json={"revision": 1, "winner": "red", "method": "points", "score": {"red": 3, "blue": 1}},
                headers={"Authorization": f"Bearer {token}", "traceparent": TRACEPARENT},
                timeout=10,
            )
            assert resp.status_code == 202, resp.text
            wait_until(
                lambda: any(s.name == "standings_changed notify" for s in exporter.get_finished_spans()),
                30,
                "the projector's NOTIFY span",
            )
    finally:
        intake.stop()
    logs = [json.loads(line) for line in log_lines.getvalue().splitlines() if line.startswith("{")]

    spans = list(exporter.get_finished_spans())
    request = _one(spans, SpanKind.SERVER, "/results")
    produce = _one(spans, SpanKind.PRODUCER, "publish")
    batch = _one(spans, SpanKind.CONSUMER, "process")
    notify = next(s for s in spans if s.name == "standings_changed notify")
    for span in (request, produce, batch, notify):
        assert _hex(span.context.trace_id, 32) == TRACE_ID, span.name
    # the referee's traceparent is the request's parent; each step is a child of the one before
    assert request.parent is not None and _hex(request.parent.span_id, 16) == "00f067aa0ba902b7"
    assert produce.parent is not None and produce.parent.span_id == request.context.span_id
    assert batch.parent is not None and batch.parent.span_id == produce.context.span_id
    assert [link.context.span_id for link in batch.links] == [produce.context.span_id]
    assert notify.parent is not None and notify.parent.span_id == batch.context.span_id
    # the intake's statements (its engine was made with tracing on) are client spans of the request
    statements = [s for s in spans if s.kind is SpanKind.CLIENT and s.parent is not None]
    assert any(s.parent.span_id == request.context.span_id for s in statements if s.parent), [s.name for s in spans]

    accepted = [line for line in logs if line.get("event") == "revision_accepted"]
    applied = [line for line in logs if line.get("event") == "batch_applied" and line.get("applied")]
    assert accepted and applied, [line.get("event") for line in logs]
    assert {line["trace_id"] for line in accepted + applied} == {TRACE_ID}
    assert applied[0]["span_id"] == _hex(batch.context.span_id, 16)
