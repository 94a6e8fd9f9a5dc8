"""A stand-in for the Assistant service in client tests: a fake, not the real agent.

``FakeAssistant`` subscribes to ``tasks`` on a real ``RedisStreamsRuntime`` and answers each
``TaskRequest`` by what its prompt says, without any model:

    (anything else)      AssistantTurn on events, then TaskResult ``completed`` on outcomes
                         with one artifact blob (``result.csv``); the answer lists the input
                         files it received (name=size), read inline or from their blobs
    "wait for cancel"    AssistantTurn, then nothing until a CancelTask -> TaskResult cancelled
    "status:<s>"         TaskResult with status ``<s>`` (failed, deadline, max_turns, ...)
    "explode"            raises while ``control.explode`` (-> retries, then a dead letter)
    "block"              waits for ``control.release`` before completing
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass, field

from agent_streams import MessageContext, RoutedAgent, TopicId, message_handler, type_subscription
from agent_streams.keys import Keys
from agent_streams.messages import (
    EVENTS_TOPIC,
    OUTCOMES_TOPIC,
    ArtifactRef,
    AssistantTurn,
    CancelTask,
    CodeBlockSpec,
    TaskRequest,
    TaskResult,
)
from agent_streams.streams import RedisStreamsRuntime

ARTIFACT = b"x,y\n0,0\n1,1\n2,4\n"
TURN_TEXT = "Computing squares:\n\n```python\nprint([x * x for x in range(3)])\n```\n"


@dataclass
class FakeControl:
    """Shared by every FakeAssistant instance of one runtime: knobs and what it saw."""

    explode: bool = True
    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[tuple[str, TaskRequest]] = field(default_factory=list)


def fake_assistant_class(runtime: RedisStreamsRuntime, control: FakeControl) -> type[RoutedAgent]:
    keys = Keys(runtime.settings.namespace)

    @type_subscription("tasks")
    class FakeAssistant(RoutedAgent):
        def __init__(self) -> None:
            super().__init__("fake assistant for client tests")

        async def _finish(self, result: TaskResult) -> None:
            await self.publish_message(result, TopicId(OUTCOMES_TOPIC, self.id.key))

        @message_handler
        async def on_task(self, message: TaskRequest, ctx: MessageContext) -> None:
            control.tasks.append((self.id.key, message))
            prompt = message.prompt
            if prompt == "explode" and control.explode:
                raise RuntimeError("fake assistant exploded")
            if prompt == "block":
                control.started.set()
                await control.release.wait()
            if prompt.startswith("status:"):
                status = prompt.removeprefix("status:")
                result = TaskResult.model_validate({"status": status, "error": f"fake {status}"})
                await self._finish(result)
                return
            turn = AssistantTurn(
                turn=1,
                content=TURN_TEXT,
                code_blocks=[CodeBlockSpec(code="print([x * x for x in range(3)])")],
            )
            await self.publish_message(turn, TopicId(EVENTS_TOPIC, self.id.key))
            if prompt == "wait for cancel":
                return
            sizes = []
            for f in message.files:
                if f.content_b64 is not None:
                    data = base64.b64decode(f.content_b64)
                else:
                    assert f.digest is not None
                    blob = await runtime.redis.get(keys.blob(f.digest))
                    assert isinstance(blob, bytes), f"input blob {f.digest} missing"
                    data = blob
                    assert hashlib.sha256(data).hexdigest() == f.digest
                sizes.append(f"{f.name}={len(data)}")
            digest = hashlib.sha256(ARTIFACT).hexdigest()
            await runtime.redis.set(keys.blob(digest), ARTIFACT, ex=600)
            artifact = ArtifactRef(
                name="result.csv", size=len(ARTIFACT), media_type="text/csv", digest=digest
            )
            answer = "The squares are 0, 1, 4. files: " + (", ".join(sizes) or "none")
            await self._finish(
                TaskResult(status="completed", answer=answer, turns=1, artifacts=[artifact])
            )

        @message_handler
        async def on_cancel(self, message: CancelTask, ctx: MessageContext) -> None:
            await self._finish(TaskResult(status="cancelled", error=message.reason, turns=1))

    return FakeAssistant
