"""Traces: OpenTelemetry's SDK exporting OTLP/HTTP, and the W3C trace context in stream entries.

One task is one trace across processes: a publish writes the current span's context into the
entry (``traceparent`` / ``tracestate`` fields, ``streams.wire``), the delivery on the other
side continues it, and every span a handler makes (the model call, the sandbox run) and every
message it publishes hang under the delivery's span. A publish outside any trace (no current
span: the client's submit, a timer's publish) makes no span and writes no context; the
delivery of such an entry starts the trace, as does that of an entry without the fields (an
old one, or one written with ``redis-cli``) or with a malformed one.

Spans (names and kinds)::

    publish <topic>        PRODUCER  around the write of an entry (topic type, or the inbox)
    handle <MessageType>   CONSUMER  one delivery: the handler, its reply or ack, its retries
    chat <model>           CLIENT    the Assistant's model call (gen_ai.* attributes)
    execute                INTERNAL  the Executor's run of one request
      sandbox start                  a session's sandbox starting (or a warm spare taken)
      run                            the blocks running in the sandbox

Cost: with tracing off there is no tracer provider (``trace.get_tracer`` gives OpenTelemetry's
no-op one) and the runtime gets no hooks for traces. With it on, a message whose trace is not
sampled (its ``traceparent`` says so) makes no span: its context is passed on as it came, so
that what it leads to stays in the same, unsampled, trace. That shortcut holds for the
parent-based samplers (the SDK's default, and ``parentbased_traceidratio``); another sampler
gets a span for every delivery, as the SDK would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

__all__ = [
    "TRACEPARENT",
    "TRACESTATE",
    "format_traceparent",
    "parent_based",
    "parse_traceparent",
    "span",
    "tracer_provider",
]

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def tracer_provider(traces_url: str, service_name: str, sampler: Any = None) -> Any:
    """An SDK tracer provider that batches spans to ``traces_url`` (OTLP/HTTP, protobuf);
    ``shutdown()`` flushes it. The sampler (unless given) and the batch processor's delays
    come from the SDK's standard ``OTEL_*`` variables. The SDK is imported here, not before:
    a process without tracing never loads it."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        sampler=sampler, resource=Resource.create({SERVICE_NAME: service_name})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url)))
    return provider


def parent_based(provider: Any) -> bool:
    """Whether ``provider``'s sampler follows the parent's decision (see the module
    docstring: then an unsampled message needs no span)."""
    from opentelemetry.sdk.trace.sampling import ParentBased

    return isinstance(getattr(provider, "sampler", None), ParentBased)


def format_traceparent(context: SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def parse_traceparent(traceparent: str, tracestate: str | None = None) -> SpanContext | None:
    """The remote span context an entry carries; None for a malformed one (hostile input: a
    new trace starts instead)."""
    match = _TRACEPARENT.fullmatch(traceparent)
    if match is None:
        return None
    trace_id, span_id = int(match.group(1), 16), int(match.group(2), 16)
    if not trace_id or not span_id:
        return None
    state = None
    if tracestate:
        try:
            state = TraceState.from_header([tracestate[:512]])
        except ValueError:
            state = None
    return SpanContext(
        trace_id,
        span_id,
        is_remote=True,
        trace_flags=TraceFlags(int(match.group(3), 16)),
        trace_state=state,
    )


def remote_parent(context: SpanContext) -> Context:
    """A context whose current span is ``context`` (the parent of what starts under it)."""
    return trace.set_span_in_context(NonRecordingSpan(context))


@contextmanager
def span(
    name: str,
    *,
    tracer: str = "agent_streams",
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: dict[str, Any] | None = None,
) -> Iterator[Span]:
    """A span under the current one, current itself inside the block; an exception leaving
    the block is recorded on it (status ERROR). With tracing off it is OpenTelemetry's no-op
    span (a few microseconds: use it per model call or run, not per message)."""
    with trace.get_tracer(tracer).start_as_current_span(
        name, kind=kind, attributes=attributes
    ) as current:
        yield current


def mark_error(current: Span, description: str) -> None:
    """Set ``current``'s status to ERROR with ``description`` (no-op on a no-op span)."""
    current.set_status(Status(StatusCode.ERROR, description))
