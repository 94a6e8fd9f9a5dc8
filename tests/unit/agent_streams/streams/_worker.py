"""The agent the runtime-level tests of the streams modules register: ``Worker`` takes ``Job``s
on topic ``jobs`` (and by ``send_message``), records each (agent key, n) and answers ``2 n``."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from agent_streams import MessageContext, RoutedAgent, TopicId, message_handler, type_subscription


class Job(BaseModel):
    n: int


def jobs(source: str) -> TopicId:
    return TopicId("jobs", source)


@type_subscription("jobs")
class Worker(RoutedAgent):
    handled: asyncio.Queue[tuple[str, int]]
    closed: asyncio.Queue[str]

    @classmethod
    def reset(cls) -> None:
        cls.handled, cls.closed = asyncio.Queue(), asyncio.Queue()

    def __init__(self) -> None:
        super().__init__("records jobs")

    @message_handler
    async def on_job(self, message: Job, ctx: MessageContext) -> int:
        Worker.handled.put_nowait((self.id.key, message.n))
        return 2 * message.n

    async def close(self) -> None:
        Worker.closed.put_nowait(self.id.key)
