"""The runtime's hooks on a real Redis: trace context in the entries, spans, metrics.

Two ``RedisStreamsRuntime``s in this process, each with its own ``TelemetryHooks`` over a tracer
provider of its own (the SDK's, with its in-memory exporter), stand for two services; entries
travel through Redis as between processes (``test_telemetry_services`` runs the real services).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from prometheus_client import REGISTRY

from agent_streams import MessageContext, RoutedAgent, TopicId, message_handler, type_subscription
from agent_streams.keys import Keys
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
from agent_streams.telemetry import TelemetryHooks

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]


@dataclass
class Ask:
    n: int


@dataclass
class Told:
    n: int


@dataclass
class Seen:
    """What the handler saw: the trace it ran in, per message."""

    traces: dict[int, int] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    want: int = 1


@type_subscription("ask")
class Relay(RoutedAgent):
    """Records the current trace, then publishes ``Told`` (a message it causes)."""

    def __init__(self, seen: Seen) -> None:
        super().__init__("relays")
        self._seen = seen

    @message_handler
    async def on_ask(self, message: Ask, ctx: MessageContext) -> None:
        self._seen.traces[message.n] = trace.get_current_span().get_span_context().trace_id
        await self.publish_message(Told(message.n), TopicId("told", self.id.key))
        if len(self._seen.traces) >= self._seen.want:
            self._seen.done.set()


@dataclass
class Side:
    """One 'process': a runtime, its spans."""

    runtime: RedisStreamsRuntime
    spans: InMemorySpanExporter
    provider: TracerProvider

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())


def _side(redis_url: str, namespace: str, *, sampled: bool = True, metrics: bool = False) -> Side:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(ALWAYS_ON if sampled else ALWAYS_OFF))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    hooks = TelemetryHooks(provider.get_tracer("test"), metrics_on=metrics)
    settings = RuntimeSettings(redis_url=redis_url, namespace=namespace, retry_backoff_ms=10)
    runtime = RedisStreamsRuntime(settings, hooks=hooks)
    runtime.add_dead_letter_listener(hooks.dead_lettered)
    return Side(runtime, exporter, provider)


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, protocol=2)
    yield client
    await client.aclose()


async def _start(side: Side, seen: Seen, agent_type: str) -> None:
    await Relay.register(side.runtime, agent_type, lambda: Relay(seen))
    side.runtime.register_message_type(Told)
    side.runtime.start()
    await side.runtime.ready()


async def _told(raw: aioredis.Redis, namespace: str) -> list[dict[bytes, bytes]]:
    return [fields for _id, fields in await raw.xrange(Keys(namespace).topic("told"))]


async def test_a_publish_and_its_delivery_are_parent_and_child_in_one_trace(
    redis_url: str, namespace: str, raw: aioredis.Redis
) -> None:
    client, service = _side(redis_url, namespace), _side(redis_url, namespace)
    seen = Seen()
    await _start(service, seen, "relay")
    client.runtime.start()
    try:
        with client.provider.get_tracer("test").start_as_current_span("submit") as root:
            await client.runtime.publish_message(Ask(1), TopicId("ask", "s1"))
        await asyncio.wait_for(seen.done.wait(), 20)
        await service.runtime.stop_when_idle()
    finally:
        await client.runtime.stop()
        await service.runtime.stop()
    trace_id = root.get_span_context().trace_id
    (publish,) = [s for s in client.finished() if s.name == "publish ask"]
    assert publish.parent is not None
    assert publish.parent.span_id == root.get_span_context().span_id
    spans = {s.name: s for s in service.finished()}
    handle = spans["handle Ask"]
    assert handle.kind == trace.SpanKind.CONSUMER
    assert handle.parent is not None
    assert handle.parent.span_id == publish.context.span_id
    assert handle.parent.is_remote  # it came through Redis
    assert handle.attributes is not None
    assert handle.attributes["agent_streams.outcome"] == "ok"
    assert seen.traces[1] == trace_id  # the handler ran inside the delivery's span
    told = spans["publish told"]  # what the handler published is the delivery's child
    assert told.parent is not None
    assert told.parent.span_id == handle.context.span_id
    assert {s.context.trace_id for s in service.finished()} == {trace_id}
    (entry,) = await _told(raw, namespace)
    flags = told.context.trace_flags  # sampled (01), and the SDK's "random trace id" (02)
    assert flags.sampled
    assert entry[b"traceparent"].decode() == (
        f"00-{trace_id:032x}-{told.context.span_id:016x}-{flags:02x}"
    )


async def test_an_unsampled_trace_goes_on_through_redis_without_spans(
    redis_url: str, namespace: str, raw: aioredis.Redis
) -> None:
    client = _side(redis_url, namespace, sampled=False)
    service = _side(redis_url, namespace)  # would record, but follows its parent's decision
    seen = Seen()
    await _start(service, seen, "relay")
    client.runtime.start()
    try:
        with client.provider.get_tracer("test").start_as_current_span("submit") as root:
            await client.runtime.publish_message(Ask(1), TopicId("ask", "s1"))
        await asyncio.wait_for(seen.done.wait(), 20)
        await service.runtime.stop_when_idle()
    finally:
        await client.runtime.stop()
        await service.runtime.stop()
    trace_id = root.get_span_context().trace_id
    assert not root.get_span_context().trace_flags.sampled
    assert client.finished() == []
    assert service.finished() == []
    assert seen.traces[1] == trace_id
    (entry,) = await _told(raw, namespace)  # the handler's publish carries the same trace
    assert entry[b"traceparent"].decode().startswith(f"00-{trace_id:032x}-")
    assert int(entry[b"traceparent"][-2:], 16) & 1 == 0  # not sampled


async def test_entries_without_or_with_a_broken_trace_context_start_a_trace(
    redis_url: str, namespace: str, raw: aioredis.Redis
) -> None:
    """Old entries (no field) and hostile ones (garbage, zero ids) are handled as before."""
    service = _side(redis_url, namespace)
    seen = Seen(want=4)
    await _start(service, seen, "relay")
    stream = Keys(namespace).topic("ask")
    bad = [
        None,
        "not a traceparent",
        f"00-{0:032x}-{1:016x}-01",
        "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01" + "x" * 10_000,
    ]
    try:
        for n, traceparent in enumerate(bad):
            fields = {"type": "Ask", "source": f"s{n}", "body": f'{{"n": {n}}}'}
            if traceparent is not None:
                fields["traceparent"] = traceparent
            await raw.xadd(stream, fields)  # type: ignore[arg-type]
        await asyncio.wait_for(seen.done.wait(), 20)
        await service.runtime.stop_when_idle()
    finally:
        await service.runtime.stop()
    handles = [s for s in service.finished() if s.name == "handle Ask"]
    assert len(handles) == 4
    assert all(s.parent is None for s in handles)  # each a new trace's root
    assert len({s.context.trace_id for s in handles}) == 4
    assert await raw.xlen(Keys(namespace).dead_letters) == 0


async def test_deliveries_and_dead_letters_are_counted(
    redis_url: str, namespace: str, raw: aioredis.Redis
) -> None:
    group = f"relay-{uuid.uuid4().hex[:6]}"  # its own label values in the global registry
    service = _side(redis_url, namespace, metrics=True)
    seen = Seen(want=3)
    await _start(service, seen, group)
    stream = Keys(namespace).topic("ask")
    try:
        for n in range(3):
            await raw.xadd(stream, {"type": "Ask", "source": "s", "body": f'{{"n": {n}}}'})
        await raw.xadd(stream, {"type": "Ask", "source": "s", "body": "not json"})
        await asyncio.wait_for(seen.done.wait(), 20)
        await service.runtime.stop_when_idle()
    finally:
        await service.runtime.stop()

    def sample(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    handled = sample("agent_streams_messages_handled_total", group=group, type="Ask", outcome="ok")
    assert handled == 3
    assert sample("agent_streams_handle_duration_seconds_count", group=group, type="Ask") == 3
    assert sample("agent_streams_messages_failed_total", group=group, type="Ask") == 0
    assert sample("agent_streams_dead_letters_total", group=group, code="invalid_message") == 1
