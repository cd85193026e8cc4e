"""Tracing: off by default, a batch span continues its first message's trace and links to all of
them, and log lines inside a span carry its ids."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.core import tracing
from services.core.logging import configure_logging, get_logger
from services.core.settings import Settings, TracingSettings

TP_A = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TP_B = "00-1bf7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01"


def test_tracing_is_off_unless_an_endpoint_is_set() -> None:
    assert Settings().tracing.otlp_endpoint is None
    assert isinstance(tracing.build_provider(TracingSettings(), "intake"), trace.NoOpTracerProvider)
    provider = tracing.build_provider(TracingSettings(otlp_endpoint="http://127.0.0.1:9/v1/traces"), "intake")
    assert not isinstance(provider, trace.NoOpTracerProvider)
    tracing.shutdown(provider)


def test_off_still_propagates_the_callers_trace() -> None:
    tracer = tracing.build_provider(TracingSettings(), "intake").get_tracer("t")
    with tracer.start_as_current_span("post", context=tracing.context_of(TP_A)) as span:
        assert tracing.traceparent_of(span) == TP_A


def test_a_batch_span_is_a_child_of_its_first_message_and_links_every_message() -> None:
    exporter = InMemorySpanExporter()
    provider = tracing.build_provider(TracingSettings(), "projector", exporter=exporter)
    tracer = provider.get_tracer("t")
    with tracing.batch_span(tracer, "projector.batch", [TP_A, None, "garbage", TP_B, TP_A], {"events": 5}):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.name == "projector.batch"
    assert span.kind is trace.SpanKind.CONSUMER
    assert span.parent is not None and format(span.parent.span_id, "016x") == "b7ad6b7169203331"
    assert format(span.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    linked = [format(link.context.trace_id, "032x") for link in span.links]
    assert linked == ["0af7651916cd43dd8448eb211c80319c", "1bf7651916cd43dd8448eb211c80319c"]
    assert span.attributes == {"events": 5}


def test_a_batch_without_a_valid_traceparent_starts_its_own_trace() -> None:
    exporter = InMemorySpanExporter()
    tracer = tracing.build_provider(TracingSettings(), "projector", exporter=exporter).get_tracer("t")
    with tracing.batch_span(tracer, "projector.batch", [None, "00-bad"]):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.parent is None and span.links == ()


def test_log_lines_inside_a_span_carry_its_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging("INFO", json=True)
    try:
        tracer = tracing.build_provider(TracingSettings(), "api", exporter=InMemorySpanExporter()).get_tracer("t")
        log = get_logger("test")
        with tracer.start_as_current_span("serve", context=tracing.context_of(TP_A)) as span:
            log.info("inside")
        log.info("outside")
    finally:
        structlog.reset_defaults()
    inside, outside = (json.loads(line) for line in out.getvalue().splitlines()[-2:])
    assert inside["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert inside["span_id"] == format(span.get_span_context().span_id, "016x")
    assert "trace_id" not in outside
