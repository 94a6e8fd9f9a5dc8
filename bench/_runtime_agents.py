"""The messages and agents of ``bench/runtime.py``, written once for agent-streams and once for
autogen-core (the same shape: a sink that counts one round of pings, an echo for send_message).

The messages are plain dataclasses, the same classes for both frameworks, so that both pay the
same (de)serialization for the same payload.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import autogen_core as ag

import agent_streams as ours

BENCH_TOPIC = "bench"
DONE_TOPIC = "bench-done"


@dataclass
class Ping:
    round: int
    seq: int
    total: int


@dataclass
class Echo:
    seq: int
    text: str


@dataclass
class Done:
    round: int
    t: float  # time.monotonic() of the last handled ping: one clock for every process here


OnDone = Callable[[Done], Awaitable[None]]


class _Rounds:
    """Counts pings per round; reports once the round's last ping was handled."""

    def __init__(self, on_done: OnDone) -> None:
        self._counts: dict[int, int] = {}
        self._on_done = on_done

    async def count(self, ping: Ping) -> None:
        n = self._counts[ping.round] = self._counts.get(ping.round, 0) + 1
        if n == ping.total:
            await self._on_done(Done(ping.round, time.monotonic()))


# -- agent-streams --------------------------------------------------------------------------
@ours.type_subscription(BENCH_TOPIC)
class Sink(ours.RoutedAgent):
    def __init__(self, on_done: OnDone) -> None:
        super().__init__("counts pings")
        self._rounds = _Rounds(on_done)

    @ours.message_handler
    async def on_ping(self, message: Ping, ctx: ours.MessageContext) -> None:
        await self._rounds.count(message)


class Echoer(ours.RoutedAgent):
    def __init__(self) -> None:
        super().__init__("answers send_message")

    @ours.message_handler
    async def on_echo(self, message: Echo, ctx: ours.MessageContext) -> Echo:
        return message


# -- autogen-core -----------------------------------------------------------------------------
@ag.type_subscription(BENCH_TOPIC)
class AgSink(ag.RoutedAgent):
    def __init__(self, on_done: OnDone) -> None:
        super().__init__("counts pings")
        self._rounds = _Rounds(on_done)

    @ag.message_handler
    async def on_ping(self, message: Ping, ctx: ag.MessageContext) -> None:
        await self._rounds.count(message)


class AgEchoer(ag.RoutedAgent):
    def __init__(self) -> None:
        super().__init__("answers send_message")

    @ag.message_handler
    async def on_echo(self, message: Echo, ctx: ag.MessageContext) -> Echo:
        return message


@ag.type_subscription(DONE_TOPIC)
class AgDoneWatcher(ag.RoutedAgent):
    """Receives the gRPC consumer's end-of-round marker in the publishing process."""

    def __init__(self, on_done: OnDone) -> None:
        super().__init__("hands Done to the benchmark")
        self._on_done = on_done

    @ag.message_handler
    async def on_done(self, message: Done, ctx: ag.MessageContext) -> None:
        await self._on_done(message)


def ag_serializers() -> list[ag.MessageSerializer[object]]:
    out: list[ag.MessageSerializer[object]] = []
    for cls in (Ping, Echo, Done):
        out.extend(ag.try_get_known_serializers_for_type(cls))
    return out
