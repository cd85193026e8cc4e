"""OpenTelemetry tracing, configured once per process (off unless an OTLP endpoint is set).

A result's trace starts at the intake request (or the referee's own ``traceparent``), travels in
the event's ``traceparent`` field through Kafka, and continues in the projector: its batch span
has the first message's context as parent and a link to every message's context, so each post's
trace reaches the transaction that made it visible, and a batch is one span however many posts it
carries. With tracing off the spans are non-recording but the context still propagates, so ids in
the events and the logs stay consistent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from services.core.settings import TracingSettings

_PROPAGATOR = TraceContextTextMapPropagator()
_NOOP = trace.NoOpTracerProvider()
_installed: trace.TracerProvider = _NOOP


def install(provider: trace.TracerProvider) -> None:
    """Make ``provider`` the process's (its bootstrap calls this once; a test may swap it)."""
    global _installed
    _installed = provider


def installed() -> trace.TracerProvider:
    """The provider to hand to instrumentations: it follows ``install`` (they get their tracer once)."""
    return _FOLLOWING


class _FollowingTracer(Tracer):
    """A tracer that asks the installed provider for its tracer at every span."""

    def __init__(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._name, self._args, self._kwargs = name, args, kwargs

    def _current(self) -> Tracer:
        return _installed.get_tracer(self._name, *self._args, **self._kwargs)

    def start_span(self, *args: Any, **kwargs: Any) -> Span:
        return self._current().start_span(*args, **kwargs)

    @contextmanager
    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Iterator[Span]:  # type: ignore[override]
        with self._current().start_as_current_span(*args, **kwargs) as span:
            yield span


class _FollowingProvider(trace.TracerProvider):
    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> Tracer:
        return _FollowingTracer(instrumenting_module_name, args, kwargs)


_FOLLOWING = _FollowingProvider()


def enabled() -> bool:
    """Whether spans are recorded (an SDK provider is installed): instrument only then."""
    return isinstance(_installed, TracerProvider)


def tracer(name: str) -> Tracer:
    return _installed.get_tracer(name)


def build_provider(
    settings: TracingSettings, service: str, *, exporter: SpanExporter | None = None
) -> trace.TracerProvider:
    """The process's tracer provider: an SDK provider exporting over OTLP/HTTP when
    ``otlp_endpoint`` is set (or to ``exporter``, synchronously: tests), else a no-op one."""
    if exporter is None and not settings.otlp_endpoint:
        return _NOOP
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"standings-{service}", "service.namespace": "standings"}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    return provider


@contextmanager
def traced(settings: TracingSettings, service: str) -> Iterator[trace.TracerProvider]:
    """A process's tracing, from its start to its end (its last spans flushed at exit)."""
    provider = build_provider(settings, service)
    install(provider)
    try:
        yield provider
    finally:
        shutdown(provider)
        install(_NOOP)


def shutdown(provider: trace.TracerProvider) -> None:
    """Flush what is buffered (a process stopping must not drop its last spans)."""
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def context_of(traceparent: str | None) -> Context:
    """The remote context a W3C ``traceparent`` names (an empty context for none or a bad one)."""
    return _PROPAGATOR.extract({"traceparent": traceparent} if traceparent else {})


def traceparent_of(span: Span) -> str | None:
    """The ``traceparent`` that continues ``span``'s trace in another process."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent")


def current_traceparent() -> str | None:
    """The ``traceparent`` of the span running now, if there is a valid one."""
    span = trace.get_current_span()
    return traceparent_of(span) if span.get_span_context().is_valid else None


def traceparent_in(headers: Iterable[tuple[str, str | bytes | None]] | None) -> str | None:
    """The ``traceparent`` header of a Kafka message (librdkafka's list of pairs), if any."""
    for name, value in headers or ():
        if name == "traceparent" and value is not None:
            return value.decode("ascii", "replace") if isinstance(value, bytes) else value
    return None


def remote_span(traceparent: str | None) -> Span:
    """A non-recording span standing for the caller's span (a parent or a link target)."""
    return trace.get_current_span(context_of(traceparent))


def links_to(traceparents: Iterable[str | None]) -> list[Link]:
    """One link per valid, distinct ``traceparent``, in order."""
    seen: set[tuple[int, int]] = set()
    out: list[Link] = []
    for tp in traceparents:
        ctx = remote_span(tp).get_span_context()
        if ctx.is_valid and (ctx.trace_id, ctx.span_id) not in seen:
            seen.add((ctx.trace_id, ctx.span_id))
            out.append(Link(ctx))
    return out


@contextmanager
def batch_span(
    tracer: Tracer, name: str, traceparents: list[str | None], attributes: Mapping[str, Any] | None = None
) -> Iterator[Span]:
    """A consumer span for a batch: child of its first message's context, linked to every message."""
    links = links_to(traceparents)
    parent = trace.set_span_in_context(NonRecordingSpan(links[0].context)) if links else None
    with tracer.start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, links=links, attributes=dict(attributes or {})
    ) as span:
        yield span


def add_trace_ids(_: object, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the current span's trace and span ids on every line logged inside it."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict
