"""``TelemetryHooks``: the runtime's hooks (``streams.hooks``) as spans and Prometheus metrics.

Built by ``Telemetry`` with a tracer (tracing on) and/or metrics (an endpoint is served); the
runtime gets no hooks at all when both are off. Per message this costs, with tracing on, the
SDK's span (~15-20 us a side) only when the message's trace is sampled, and a few microseconds
to pass an unsampled context on (see ``tracing``); with metrics on, a counter and a histogram
observation per delivery (label children are cached here).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from ..streams.wire import Envelope
from . import metrics
from .tracing import TRACEPARENT, TRACESTATE, format_traceparent, parse_traceparent, remote_parent

__all__ = ["TelemetryHooks"]

_NO_SPAN = nullcontext()
_ROOT = Context()  # no parent: an entry without (valid) trace context starts a trace
_OK_OUTCOMES = frozenset({"ok", "cancelled", "skipped_cancelled"})


class TelemetryHooks:
    """Spans and metrics for one process's runtimes (``RedisStreamsRuntime(hooks=...)``).

    Args:
        tracer: makes the publish and handle spans; None: no traces.
        metrics_on: count deliveries and their durations.
        parent_based: the tracer's sampler follows the parent's decision, so a message of an
            unsampled trace needs no span of its own (see ``tracing``).
    """

    def __init__(
        self, tracer: Tracer | None, *, metrics_on: bool, parent_based: bool = True
    ) -> None:
        self._tracer = tracer
        self._metrics = metrics_on
        self._parent_based = parent_based
        # label children per (group, type): .labels() costs ~1 us, a cached child ~0.1 us
        self._children: dict[tuple[str, str], _Series] = {}
        self._memo: tuple[object, str] = (None, "")  # last unsampled context, formatted

    # -- publishing -------------------------------------------------------------------------
    def publishing(
        self, topic: str, fields: dict[str, str | bytes]
    ) -> AbstractContextManager[object]:
        tracer = self._tracer
        if tracer is None:
            return _NO_SPAN
        current = trace.get_current_span().get_span_context()
        if not current.is_valid:
            return _NO_SPAN  # outside any trace: the delivery starts one (see ``tracing``)
        if not current.trace_flags.sampled and self._parent_based:
            memo = self._memo  # (read once: runtimes in other threads may share these hooks)
            if current is not memo[0]:  # a handler's publishes share one context
                memo = self._memo = (current, format_traceparent(current))
            fields[TRACEPARENT] = memo[1]  # the trace goes on, unsampled
            if current.trace_state:
                fields[TRACESTATE] = current.trace_state.to_header()
            return _NO_SPAN
        span = tracer.start_span(
            f"publish {topic}",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "redis",
                "messaging.operation.type": "send",
                "messaging.destination.name": topic,
                "messaging.message.id": str(fields.get("id", "")),
            },
        )
        sent = span.get_span_context()
        if sent.is_valid:
            fields[TRACEPARENT] = format_traceparent(sent)
            if sent.trace_state:
                fields[TRACESTATE] = sent.trace_state.to_header()
        return _Published(span)

    # -- delivering -------------------------------------------------------------------------
    def delivering(self, group: str, env: Envelope) -> _Delivery:
        series = self._series(group, env.type) if self._metrics else None
        tracer = self._tracer
        span: Span | None = None
        token: object = None
        if tracer is not None:
            remote = parse_traceparent(env.traceparent, env.tracestate) if env.traceparent else None
            if remote is not None and not remote.trace_flags.sampled and self._parent_based:
                token = otel_context.attach(remote_parent(remote))  # no span: passed on
            else:
                span = tracer.start_span(
                    f"handle {env.type}",
                    context=remote_parent(remote) if remote is not None else _ROOT,
                    kind=SpanKind.CONSUMER,
                )
                if span.is_recording():  # (attributes of an unsampled span are not built)
                    span.set_attributes(
                        {
                            "messaging.system": "redis",
                            "messaging.operation.type": "process",
                            "messaging.destination.name": env.stream,
                            "messaging.consumer.group.name": group,
                            "messaging.message.id": env.message_id,
                            "agent_streams.session": env.session or "",
                        }
                    )
                token = otel_context.attach(trace.set_span_in_context(span))
        return _Delivery(series, span, token)

    def _series(self, group: str, type_: str) -> _Series:
        series = self._children.get((group, type_))
        if series is None:
            series = self._children[(group, type_)] = _Series(group, type_)
        return series

    # -- dead letters (a listener: RedisStreamsRuntime.add_dead_letter_listener) -------------
    async def dead_lettered(self, letter: Any) -> None:
        if self._metrics:
            metrics.DEAD_LETTERS.labels(letter.group, letter.code or "unknown").inc()


class _Series:
    """One (group, type)'s metric children."""

    __slots__ = ("duration", "failed", "group", "outcomes", "retries", "type")

    def __init__(self, group: str, type_: str) -> None:
        self.group, self.type = group, type_
        self.duration = metrics.HANDLE_SECONDS.labels(group, type_)
        self.failed = metrics.MESSAGES_FAILED.labels(group, type_)
        self.retries = metrics.RETRIES.labels(group, type_)
        self.outcomes: dict[str, Any] = {}

    def ended(self, outcome: str, attempts: int, seconds: float) -> None:
        counter = self.outcomes.get(outcome)
        if counter is None:
            counter = self.outcomes[outcome] = metrics.HANDLED.labels(
                self.group, self.type, outcome
            )
        counter.inc()
        self.duration.observe(seconds)
        if outcome in metrics.FAILED_OUTCOMES:
            self.failed.inc()
        if attempts > 1:
            self.retries.inc(attempts - 1)


class _Delivery:
    """One delivery's span (current while it runs) and clock; ``end`` is called once."""

    __slots__ = ("series", "span", "started", "token")

    def __init__(self, series: _Series | None, span: Span | None, token: object) -> None:
        self.series, self.span, self.token = series, span, token
        self.started = time.perf_counter()

    def end(self, outcome: str | None, attempts: int) -> None:
        ended = outcome or "interrupted"
        if self.series is not None:
            self.series.ended(ended, attempts, time.perf_counter() - self.started)
        if self.token is not None:
            otel_context.detach(self.token)  # type: ignore[arg-type]
        span = self.span
        if span is not None and span.is_recording():
            span.set_attribute("agent_streams.outcome", ended)
            span.set_attribute("agent_streams.attempts", attempts)
            if ended not in _OK_OUTCOMES:
                span.set_status(Status(StatusCode.ERROR, ended))
            span.end()


class _Published:
    """The publish span, ended when the write returned (ERROR if it raised)."""

    __slots__ = ("span",)

    def __init__(self, span: Span) -> None:
        self.span = span

    def __enter__(self) -> Span:
        return self.span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        self.span.end()
