"""The runtime contract: the same tests against ``InProcessRuntime`` and ``RedisStreamsRuntime``.

What a user of autogen-core expects from a runtime, checked on both: the quickstart flow,
routing by topic type with the topic source as agent key, no self-delivery of a publish,
``send_message`` results / errors / timeouts / cancellation, one message at a time per agent
instance, ``stop_when_idle``, unhandled types, pydantic and dataclass messages, and handler
declarations checked when the class is defined.

Every wait is on an event or a future with a bound, never a fixed sleep.
"""

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from agent_streams import (
    AgentId,
    CancellationToken,
    CantHandleException,
    DefaultTopicId,
    MessageContext,
    RemoteHandlerError,
    RoutedAgent,
    TopicId,
    default_subscription,
    message_handler,
    type_subscription,
)
from tests.contract.conftest import RuntimeFactory

WAIT_S = 15.0


# -- messages -------------------------------------------------------------------------------
@dataclass
class Message:
    content: str


@dataclass
class Count:
    value: int


@dataclass
class GetCount:
    pass


@dataclass
class Chain:
    depth: int
    path: str


@dataclass
class Unrelated:
    note: str


@dataclass
class Boom:
    text: str


@dataclass
class Hang:
    label: str


class Ask(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    question: str
    n: int


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    text: str
    doubled: int


# -- helpers --------------------------------------------------------------------------------
class Record:
    """What agents saw, appended from handlers; tests wait on it through an event."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    def add(self, item: Any) -> None:
        self.items.append(item)
        self._changed.set()

    async def wait_until(self, predicate: Callable[[list[Any]], bool], what: str) -> None:
        async def wait() -> None:
            while not predicate(self.items):
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(wait(), WAIT_S)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; saw {self.items!r}") from None


async def started(runtime: Any) -> Any:
    runtime.start()
    ready = getattr(runtime, "ready", None)
    if ready is not None:  # the Redis runtime creates its consumer groups in the background
        await ready()
    return runtime


async def stop_when_idle(runtime: Any) -> None:
    await asyncio.wait_for(runtime.stop_when_idle(), WAIT_S)


# -- the quickstart ---------------------------------------------------------------------------
@default_subscription
class Pinger(RoutedAgent):
    def __init__(self, record: Record, rounds: int, done: asyncio.Future[str]) -> None:
        super().__init__("answers each pong with the next ping")
        self._record = record
        self._rounds = rounds
        self._done = done

    @message_handler
    async def handle(self, message: Message, ctx: MessageContext) -> None:
        self._record.add((str(self.id), message.content, ctx.topic_id, ctx.sender))
        kind, _, n = message.content.partition(" ")
        if kind != "pong":
            return
        if int(n) < self._rounds:
            await self.publish_message(Message(f"ping {int(n) + 1}"), DefaultTopicId())
        elif not self._done.done():
            self._done.set_result(ctx.topic_id.source if ctx.topic_id else "")


@default_subscription
class Ponger(RoutedAgent):
    def __init__(self, record: Record) -> None:
        super().__init__("answers each ping with a pong")
        self._record = record

    @message_handler
    async def handle(self, message: Message, ctx: MessageContext) -> None:
        self._record.add((str(self.id), message.content, ctx.topic_id, ctx.sender))
        kind, _, n = message.content.partition(" ")
        if kind == "ping":
            await self.publish_message(Message(f"pong {n}"), DefaultTopicId())


async def test_quickstart_ping_pong_keeps_the_session(runtime_factory: RuntimeFactory) -> None:
    runtime = runtime_factory()
    record = Record()
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    await Pinger.register(runtime, "pinger", lambda: Pinger(record, 3, done))
    await Ponger.register(runtime, "ponger", lambda: Ponger(record))
    await started(runtime)

    await runtime.publish_message(Message("ping 0"), DefaultTopicId(source="session-7"))
    assert await asyncio.wait_for(done, WAIT_S) == "session-7"
    await stop_when_idle(runtime)

    topic = TopicId("default", "session-7")
    ponger = [(c, s) for a, c, t, s in record.items if a == "ponger/session-7" and t == topic]
    pinger = [(c, s) for a, c, t, s in record.items if a == "pinger/session-7" and t == topic]
    assert len(ponger) + len(pinger) == len(record.items), "a message left the session"
    assert ponger == [
        ("ping 0", None),
        *((f"ping {n}", AgentId("pinger", "session-7")) for n in range(1, 4)),
    ]
    assert pinger == [("ping 0", None)] + [
        (f"pong {n}", AgentId("ponger", "session-7")) for n in range(4)
    ]
    assert await runtime_factory.failures() == []


@default_subscription
class Modifier(RoutedAgent):
    def __init__(self, record: Record) -> None:
        super().__init__("decrements")
        self._record = record

    @message_handler
    async def handle(self, message: Count, ctx: MessageContext) -> None:
        self._record.add(("modifier", message.value))
        await self.publish_message(Count(message.value - 1), DefaultTopicId())


@default_subscription
class Checker(RoutedAgent):
    def __init__(self, record: Record) -> None:
        super().__init__("stops at 1")
        self._record = record

    @message_handler
    async def handle(self, message: Count, ctx: MessageContext) -> None:
        self._record.add(("checker", message.value))
        if message.value > 1:
            await self.publish_message(Count(message.value), DefaultTopicId())


async def test_quickstart_send_then_stop_when_idle(runtime_factory: RuntimeFactory) -> None:
    """autogen-core's quickstart verbatim: send to the checker, then ``stop_when_idle``."""
    runtime = runtime_factory()
    record = Record()
    await Modifier.register(runtime, "modifier", lambda: Modifier(record))
    await Checker.register(runtime, "checker", lambda: Checker(record))
    await started(runtime)

    reply = await runtime.send_message(Count(5), AgentId("checker", "default"), timeout=WAIT_S)
    assert reply is None
    await stop_when_idle(runtime)

    assert record.items == [
        ("checker", 5),
        *(item for v in range(5, 1, -1) for item in (("modifier", v), ("checker", v - 1))),
    ]


# -- routing --------------------------------------------------------------------------------
class Counter(RoutedAgent):
    created: list[str] = []

    def __init__(self, record: Record) -> None:
        super().__init__("counts its messages")
        self._record = record
        self._count = 0
        Counter.created.append(str(self.id))

    @message_handler
    async def on_order(self, message: Message, ctx: MessageContext) -> None:
        self._count += 1
        assert ctx.topic_id is not None
        self._record.add((str(self.id), ctx.topic_id.source, message.content))

    @message_handler
    async def on_get(self, message: GetCount, ctx: MessageContext) -> Count:
        return Count(self._count)


@type_subscription("orders")
class OrderCounter(Counter):
    pass


@type_subscription("refunds")
class RefundCounter(Counter):
    pass


async def test_topic_type_routes_and_source_becomes_agent_key(
    runtime_factory: RuntimeFactory,
) -> None:
    runtime = runtime_factory()
    record = Record()
    Counter.created = []
    await OrderCounter.register(runtime, "orders-agent", lambda: OrderCounter(record))
    await RefundCounter.register(runtime, "refunds-agent", lambda: RefundCounter(record))
    await started(runtime)

    for source, content in [("a", "1"), ("b", "2"), ("a", "3"), ("a", "4"), ("b", "5")]:
        await runtime.publish_message(Message(content), TopicId("orders", source))
    await runtime.publish_message(Message("r"), TopicId("refunds", "a"))
    await runtime.publish_message(Message("nobody"), TopicId("unsubscribed", "a"))
    await record.wait_until(lambda items: len(items) >= 6, "six handled messages")

    by_agent: dict[str, list[str]] = defaultdict(list)
    for agent, source, content in record.items:
        assert agent.endswith("/" + source)
        by_agent[agent].append(content)
    assert dict(by_agent) == {
        "orders-agent/a": ["1", "3", "4"],
        "orders-agent/b": ["2", "5"],
        "refunds-agent/a": ["r"],
    }
    # one instance per key, and its state is its own
    assert sorted(Counter.created) == ["orders-agent/a", "orders-agent/b", "refunds-agent/a"]
    get = runtime.send_message
    assert await get(GetCount(), AgentId("orders-agent", "a"), timeout=WAIT_S) == Count(3)
    assert await get(GetCount(), AgentId("orders-agent", "b"), timeout=WAIT_S) == Count(2)
    assert await get(GetCount(), AgentId("refunds-agent", "a"), timeout=WAIT_S) == Count(1)
    assert await get(GetCount(), AgentId("orders-agent", "fresh"), timeout=WAIT_S) == Count(0)
    assert sorted(Counter.created) == [
        "orders-agent/a",
        "orders-agent/b",
        "orders-agent/fresh",
        "refunds-agent/a",
    ]


@type_subscription("chat")
class Talker(RoutedAgent):
    def __init__(self, record: Record) -> None:
        super().__init__("says hello once")
        self._record = record

    @message_handler
    async def handle(self, message: Message, ctx: MessageContext) -> None:
        self._record.add((self.id.type, message.content, ctx.sender))
        if message.content == "start":
            await self.publish_message(Message(f"hello from {self.id.type}"), TopicId("chat", "s"))


async def test_publisher_never_receives_its_own_publish(runtime_factory: RuntimeFactory) -> None:
    runtime = runtime_factory()
    record = Record()
    for name in ("alice", "bob"):
        await Talker.register(runtime, name, lambda: Talker(record))
    await started(runtime)

    await runtime.publish_message(Message("start"), TopicId("chat", "s"))
    await record.wait_until(lambda items: len(items) >= 4, "starts and hellos")
    await stop_when_idle(runtime)

    assert sorted(record.items, key=str) == sorted(
        [
            ("alice", "start", None),
            ("bob", "start", None),
            ("alice", "hello from bob", AgentId("bob", "s")),
            ("bob", "hello from alice", AgentId("alice", "s")),
        ],
        key=str,
    )


# -- send_message ---------------------------------------------------------------------------
class Service(RoutedAgent):
    """Direct messages only (no subscription)."""

    def __init__(self, record: Record) -> None:
        super().__init__("answers, fails, hangs")
        self._record = record

    @message_handler
    async def echo(self, message: Message, ctx: MessageContext) -> Message:
        assert ctx.is_rpc
        assert ctx.topic_id is None
        return Message(f"{self.id.key}:{message.content.upper()}")

    @message_handler
    async def ask(self, message: Ask, ctx: MessageContext) -> Answer:
        return Answer(text=message.question[::-1], doubled=message.n * 2)

    @message_handler
    async def boom(self, message: Boom, ctx: MessageContext) -> None:
        raise ValueError(f"kaput: {message.text}")

    @message_handler
    async def hang(self, message: Hang, ctx: MessageContext) -> None:
        self._record.add(("started", message.label))
        try:
            await asyncio.Event().wait()  # until cancelled
        except asyncio.CancelledError:
            self._record.add(("cancelled", message.label, ctx.cancellation_token.is_cancelled()))
            raise


async def _service(runtime_factory: RuntimeFactory) -> tuple[Any, Record]:
    runtime = runtime_factory()
    record = Record()
    await Service.register(runtime, "service", lambda: Service(record))
    await started(runtime)
    return runtime, record


async def test_send_message_returns_the_handlers_value(runtime_factory: RuntimeFactory) -> None:
    runtime, _ = await _service(runtime_factory)
    reply = await runtime.send_message(Message("hi"), AgentId("service", "k1"), timeout=WAIT_S)
    assert reply == Message("k1:HI")
    answer = await runtime.send_message(
        Ask(question="abc", n=21), AgentId("service", "k2"), timeout=WAIT_S
    )
    assert isinstance(answer, Answer)
    assert answer == Answer(text="cba", doubled=42)


async def test_send_message_raises_the_handlers_error(runtime_factory: RuntimeFactory) -> None:
    """Both runtimes raise ``RemoteHandlerError`` (the remote class name in ``error_type``):
    the in-process one as well, so a unit test sees what production will do."""
    runtime, _ = await _service(runtime_factory)
    with pytest.raises(RemoteHandlerError, match="kaput: x") as info:
        await runtime.send_message(Boom("x"), AgentId("service", "k"), timeout=WAIT_S)
    assert info.value.error_type == "ValueError"
    # the agent is still usable afterwards
    assert await runtime.send_message(
        Message("ok"), AgentId("service", "k"), timeout=WAIT_S
    ) == Message("k:OK")


async def test_send_message_timeout_cancels_the_handler(runtime_factory: RuntimeFactory) -> None:
    runtime, record = await _service(runtime_factory)
    with pytest.raises(TimeoutError):
        await runtime.send_message(Hang("t"), AgentId("service", "k"), timeout=0.5)
    await record.wait_until(lambda items: ("cancelled", "t", True) in items, "cancellation")
    assert record.items == [("started", "t"), ("cancelled", "t", True)]
    # the instance is free again
    assert await runtime.send_message(
        Message("after"), AgentId("service", "k"), timeout=WAIT_S
    ) == Message("k:AFTER")


async def test_cancelling_send_message_cancels_the_handler(
    runtime_factory: RuntimeFactory,
) -> None:
    runtime, record = await _service(runtime_factory)
    token = CancellationToken()
    call = asyncio.ensure_future(
        runtime.send_message(
            Hang("c"), AgentId("service", "k"), cancellation_token=token, timeout=WAIT_S
        )
    )
    await record.wait_until(lambda items: ("started", "c") in items, "the handler to start")
    token.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await record.wait_until(lambda items: ("cancelled", "c", True) in items, "cancellation")


async def test_request_cancelled_while_queued_never_runs(runtime_factory: RuntimeFactory) -> None:
    """A send_message cancelled while it waits behind a busy agent is dropped, not handled."""
    runtime, record = await _service(runtime_factory)
    agent = AgentId("service", "k")
    first_token, second_token = CancellationToken(), CancellationToken()
    first = asyncio.ensure_future(
        runtime.send_message(Hang("first"), agent, cancellation_token=first_token)
    )
    await record.wait_until(lambda items: ("started", "first") in items, "the first handler")
    second = asyncio.ensure_future(
        runtime.send_message(Hang("second"), agent, cancellation_token=second_token)
    )
    second_token.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    first_token.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    # the agent's queue moves on past the cancelled request
    assert await runtime.send_message(Message("next"), agent, timeout=WAIT_S) == Message("k:NEXT")
    assert ("started", "second") not in record.items


# -- one message at a time per agent instance -------------------------------------------------
@type_subscription("work")
class Worker(RoutedAgent):
    active: dict[str, int] = {}
    max_active: dict[str, int] = {}
    overlap = asyncio.Event()

    def __init__(self, record: Record) -> None:
        super().__init__("records how many of its messages run at once")
        self._record = record

    @message_handler
    async def handle(self, message: Message, ctx: MessageContext) -> None:
        key = self.id.key
        cls = Worker
        cls.active[key] = cls.active.get(key, 0) + 1
        cls.max_active[key] = max(cls.max_active.get(key, 0), cls.active[key])
        if sum(1 for n in cls.active.values() if n) >= 2:
            cls.overlap.set()
        try:
            # Hold the first messages until two keys run at once: any second message of the same
            # key that slipped in would be counted meanwhile.
            with_timeout = asyncio.wait_for(cls.overlap.wait(), 1.0)
            with contextlib.suppress(TimeoutError):
                await with_timeout
            for _ in range(3):
                await asyncio.sleep(0)  # give a wrongly admitted twin a chance to enter
        finally:
            cls.active[key] -= 1
        self._record.add((key, message.content))


async def test_one_message_at_a_time_per_agent_instance(runtime_factory: RuntimeFactory) -> None:
    runtime = runtime_factory()
    record = Record()
    Worker.active, Worker.max_active, Worker.overlap = {}, {}, asyncio.Event()
    await Worker.register(runtime, "worker", lambda: Worker(record))
    await started(runtime)

    publishes = [
        runtime.publish_message(Message(f"{key}{i}"), TopicId("work", key))
        for i in range(5)
        for key in ("x", "y")
    ]
    await asyncio.gather(*publishes)
    await record.wait_until(lambda items: len(items) == 10, "ten handled")

    assert Worker.max_active == {"x": 1, "y": 1}
    assert Worker.overlap.is_set(), "different agent keys never ran concurrently"
    for key in ("x", "y"):
        assert [c for k, c in record.items if k == key] == [f"{key}{i}" for i in range(5)]


# -- stop_when_idle -------------------------------------------------------------------------
@type_subscription("tree")
class Splitter(RoutedAgent):
    def __init__(self, record: Record) -> None:
        super().__init__("publishes two children until depth 0")
        self._record = record

    @message_handler
    async def handle(self, message: Chain, ctx: MessageContext) -> None:
        if message.depth > 0:
            for branch in "lr":
                path = message.path + branch
                await self.publish_message(Chain(message.depth - 1, path), TopicId("tree", path))
        self._record.add(message.path)


async def test_stop_when_idle_waits_for_cascades(runtime_factory: RuntimeFactory) -> None:
    runtime = runtime_factory()
    record = Record()
    await Splitter.register(runtime, "splitter", lambda: Splitter(record))
    await started(runtime)

    await runtime.publish_message(Chain(4, "t"), TopicId("tree", "t"))
    await stop_when_idle(runtime)

    assert len(record.items) == 31
    assert len(set(record.items)) == 31


# -- unhandled types ------------------------------------------------------------------------
@type_subscription("mixed")
class Picky(RoutedAgent):
    def __init__(self, record: Record) -> None:
        super().__init__("takes Message only")
        self._record = record

    @message_handler
    async def handle(self, message: Message, ctx: MessageContext) -> Message:
        self._record.add(message.content)
        return message


async def test_unhandled_published_type_is_acknowledged_silently(
    runtime_factory: RuntimeFactory,
) -> None:
    runtime = runtime_factory()
    record = Record()
    await Picky.register(runtime, "picky", lambda: Picky(record))
    await started(runtime)

    await runtime.publish_message(Unrelated("ignore me"), TopicId("mixed", "s"))
    await runtime.publish_message(Message("marker"), TopicId("mixed", "s"))
    await record.wait_until(lambda items: "marker" in items, "the marker")
    await stop_when_idle(runtime)  # returns only when nothing is left pending

    assert record.items == ["marker"]
    assert await runtime_factory.failures() == []


@type_subscription("mixed")
class Fond(RoutedAgent):
    """Another agent type on the "mixed" topic, in another process: it takes Unrelated."""

    def __init__(self, record: Record) -> None:
        super().__init__("takes Unrelated only")
        self._record = record

    @message_handler
    async def handle(self, message: Unrelated, ctx: MessageContext) -> None:
        self._record.add(f"fond:{message.note}")


async def test_type_of_another_agent_type_in_another_process_is_skipped_silently(
    runtime_factory: RuntimeFactory,
) -> None:
    """A topic shared by agent types in different processes carries types one of them has
    never heard of: that agent skips them, as autogen does, instead of calling them bad input
    (on Redis, subscribers announce the types they take on each topic)."""
    runtime = runtime_factory()
    record = Record()
    await Picky.register(runtime, "picky", lambda: Picky(record))
    await started(runtime)
    publisher = await runtime_factory.peer()
    other = Record()
    await Fond.register(publisher, "fond", lambda: Fond(other))

    await publisher.publish_message(Unrelated("for another agent type"), TopicId("mixed", "s"))
    await publisher.publish_message(Message("marker"), TopicId("mixed", "s"))
    await record.wait_until(lambda items: "marker" in items, "the marker")
    await other.wait_until(lambda items: bool(items), "the other agent type's message")
    await stop_when_idle(runtime)

    assert record.items == ["marker"]
    assert other.items == ["fond:for another agent type"]
    assert await runtime_factory.failures() == []


async def test_type_nobody_handles_is_bad_input_on_redis(
    runtime_factory: RuntimeFactory,
) -> None:
    """A type no subscriber of the topic takes (a typo, a stale client) is answered: on
    Redis as bad input on the errors stream; in-process it is skipped like any unhandled type
    (the in-process registry knows every class, so it cannot be unknown there)."""
    runtime = runtime_factory()
    record = Record()
    await Picky.register(runtime, "picky", lambda: Picky(record))
    await started(runtime)
    publisher = await runtime_factory.peer()

    await publisher.publish_message(Unrelated("nobody takes this"), TopicId("mixed", "s"))
    await publisher.publish_message(Message("marker"), TopicId("mixed", "s"))
    await record.wait_until(lambda items: "marker" in items, "the marker")
    await stop_when_idle(runtime)

    failures = await runtime_factory.failures()
    if runtime_factory.kind == "redis":
        assert len(failures) == 2  # the errors entry and the dead letter
        assert all("unknown_type" in f for f in failures)
    else:
        assert failures == []


async def test_send_message_from_another_process(runtime_factory: RuntimeFactory) -> None:
    """A caller in another process gets the reply, typed, once it knows the reply's type
    (``register_message_type``, as AutoGen's gRPC runtime needs a serializer)."""
    await _service(runtime_factory)
    caller = await runtime_factory.peer()
    caller.register_message_type(Answer)
    answer = await caller.send_message(
        Ask(question="ab", n=2), AgentId("service", "x"), timeout=WAIT_S
    )
    assert answer == Answer(text="ba", doubled=4)
    with pytest.raises(RemoteHandlerError, match="kaput"):
        await caller.send_message(Boom("y"), AgentId("service", "x"), timeout=WAIT_S)


async def test_send_message_of_unhandled_type_raises_cant_handle(
    runtime_factory: RuntimeFactory,
) -> None:
    runtime = runtime_factory()
    await Picky.register(runtime, "picky", lambda: Picky(Record()))
    await started(runtime)

    with pytest.raises(CantHandleException, match="Unrelated"):
        await runtime.send_message(Unrelated("?"), AgentId("picky", "s"), timeout=WAIT_S)


# -- message kinds --------------------------------------------------------------------------
@type_subscription("kinds")
class Both(RoutedAgent):
    def __init__(self, record: Record) -> None:
        super().__init__("takes a dataclass and a pydantic model")
        self._record = record

    @message_handler
    async def handle(self, message: Message | Ask, ctx: MessageContext) -> Message | Answer:
        self._record.add(message)
        if isinstance(message, Ask):
            return Answer(text=message.question, doubled=message.n * 2)
        return Message(message.content * 2)


async def test_pydantic_models_and_dataclasses_are_messages(
    runtime_factory: RuntimeFactory,
) -> None:
    runtime = runtime_factory()
    record = Record()
    await Both.register(runtime, "both", lambda: Both(record))
    await started(runtime)

    await runtime.publish_message(Message("dc"), TopicId("kinds", "s"))
    await runtime.publish_message(Ask(question="pm", n=1), TopicId("kinds", "s"))
    await record.wait_until(lambda items: len(items) == 2, "both published messages")
    assert record.items == [Message("dc"), Ask(question="pm", n=1)]
    assert type(record.items[1]) is Ask

    reply = await runtime.send_message(Ask(question="q", n=4), AgentId("both", "s"), timeout=WAIT_S)
    assert type(reply) is Answer
    assert reply == Answer(text="q", doubled=8)
    reply = await runtime.send_message(Message("ab"), AgentId("both", "s"), timeout=WAIT_S)
    assert type(reply) is Message
    assert reply == Message("abab")


# -- handler declarations -------------------------------------------------------------------
def test_handler_without_message_annotation_fails_at_class_definition() -> None:
    with pytest.raises(TypeError, match="annotate the message"):

        class Bad(RoutedAgent):
            @message_handler
            async def handle(self, message, ctx: MessageContext) -> None:  # type: ignore[no-untyped-def]
                pass


def test_handler_with_wrong_ctx_type_fails_at_class_definition() -> None:
    with pytest.raises(TypeError, match="MessageContext"):

        class Bad(RoutedAgent):
            @message_handler
            async def handle(self, message: Message, ctx: dict[str, Any]) -> None:
                pass


def test_handler_with_wrong_arity_fails_at_class_definition() -> None:
    with pytest.raises(TypeError, match="takes"):

        class Bad(RoutedAgent):
            @message_handler
            async def handle(self, message: Message) -> None:  # type: ignore[misc]
                pass
