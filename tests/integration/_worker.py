"""A worker process for the cross-process tests: ``python -m tests.integration._worker``.

It registers agent type ``worker`` on topic ``work`` and records every handled message on the
stream ``{ns}:test:handled`` (fields: id, consumer, session) so tests wait on events.
Arguments: REDIS_URL NAMESPACE CONSUMER [handler_delay_s] (settings via AGENT_STREAMS_* env).
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

from agent_streams import (
    MessageContext,
    RoutedAgent,
    TopicId,
    message_handler,
    type_subscription,
)
from agent_streams.logging import configure_logging
from agent_streams.service import serve
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings


@dataclass
class Work:
    n: int


@dataclass
class Slow:
    seconds: float


@type_subscription("work")
class Worker(RoutedAgent):
    def __init__(self, runtime: RedisStreamsRuntime, delay_s: float) -> None:
        super().__init__("records what it handles")
        self._rt = runtime
        self._delay_s = delay_s

    async def _record(self, ctx: MessageContext, what: str) -> None:
        await self._rt.redis.xadd(
            f"{self._rt.settings.namespace}:test:handled",
            {
                "id": ctx.message_id,
                "consumer": self._rt.settings.consumer_name,
                "session": self.id.key,
                "what": what,
            },
        )

    @message_handler
    async def on_work(self, message: Work, ctx: MessageContext) -> None:
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        await self._record(ctx, "work")

    @message_handler
    async def on_slow(self, message: Slow, ctx: MessageContext) -> str:
        await self._record(ctx, "started")
        try:
            await asyncio.sleep(message.seconds)
        except asyncio.CancelledError:
            await self._record(ctx, "cancelled")
            raise
        await self._record(ctx, "finished")
        # A handler still publishes while its service drains after SIGTERM.
        await self.publish_message(Work(-1), TopicId("after-work", self.id.key))
        return "done"


async def main(redis_url: str, namespace: str, consumer: str, delay_s: float) -> None:
    configure_logging(os.environ.get("TEST_WORKER_LOG", "WARNING"))
    runtime = RedisStreamsRuntime(
        RuntimeSettings(redis_url=redis_url, namespace=namespace, consumer_name=consumer)
    )
    await Worker.register(runtime, "worker", lambda: Worker(runtime, delay_s))
    runtime.start()
    await runtime.ready()
    await runtime.redis.xadd(f"{namespace}:test:ready", {"consumer": consumer})
    await serve(runtime)


if __name__ == "__main__":
    url, ns, name = sys.argv[1:4]
    asyncio.run(main(url, ns, name, float(sys.argv[4]) if len(sys.argv) > 4 else 0.0))
