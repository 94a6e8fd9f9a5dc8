"""AutoGen core's code-execution quickstart, on agent-streams: the seed's code, imports changed.

Everything through ``main()`` is the quickstart's own code (autogen-core user guide, "Code
Execution"; AutoGen is MIT-licensed, (c) Microsoft; its notebook cell wrapped in ``async def
main()`` as a script needs, formatted by ruff) with only its imports changed, and the one line
that makes the model client (the embedded model, or any OpenAI-compatible endpoint, from
``AGENT_STREAMS_MODEL_*`` / ``OPENAI_*``):

    autogen_core                           -> agent_streams
    autogen_core.code_executor             -> agent_streams.code_executor
    autogen_core.models                    -> agent_streams_assistant.models
    autogen_ext.code_executors.docker      -> agent_streams_executor.code_executors.docker
    autogen_ext.models.openai              -> agent_streams_assistant.openai_client

``SingleThreadedAgentRuntime`` is this project's ``InProcessRuntime`` (the same class). The
Docker executor is the Executor service's locked-down sandbox: no network unless the operator
allows it (``EXECUTOR_ALLOW_NETWORK=true``), which the quickstart's task needs to download
prices. Below ``main()``, not part of the seed: ``--role executor|assistant`` runs the same
agents across processes over Redis Streams (``AGENT_STREAMS_REDIS_URL`` / ``REDIS_URL``).

    uv run python examples/quickstart.py                      # one process, as in AutoGen
    uv run python examples/quickstart.py --role executor      # terminal 1: runs the code
    uv run python examples/quickstart.py --role assistant     # terminal 2: asks the model
"""

# ruff: noqa: E402, E501, UP006, UP035 - the seed's own spelling: typing.List, long lines, imports per cell

import re
from dataclasses import dataclass
from typing import List

from agent_streams import (
    DefaultTopicId,
    MessageContext,
    RoutedAgent,
    default_subscription,
    message_handler,
)
from agent_streams.code_executor import CodeBlock, CodeExecutor
from agent_streams_assistant.models import (
    AssistantMessage,
    ChatCompletionClient,
    LLMMessage,
    SystemMessage,
    UserMessage,
)


@dataclass
class Message:
    content: str


@default_subscription
class Assistant(RoutedAgent):
    def __init__(self, model_client: ChatCompletionClient) -> None:
        super().__init__("An assistant agent.")
        self._model_client = model_client
        self._chat_history: List[LLMMessage] = [
            SystemMessage(
                content="""Write Python script in markdown block, and it will be executed.
Always save figures to file in the current directory. Do not use plt.show(). All code required to complete this task must be contained within a single response.""",
            )
        ]

    @message_handler
    async def handle_message(self, message: Message, ctx: MessageContext) -> None:
        self._chat_history.append(UserMessage(content=message.content, source="user"))
        result = await self._model_client.create(self._chat_history)
        print(f"\n{'-' * 80}\nAssistant:\n{result.content}")
        self._chat_history.append(AssistantMessage(content=result.content, source="assistant"))  # type: ignore
        await self.publish_message(Message(content=result.content), DefaultTopicId())  # type: ignore


def extract_markdown_code_blocks(markdown_text: str) -> List[CodeBlock]:
    pattern = re.compile(r"```(?:\s*([\w\+\-]+))?\n([\s\S]*?)```")
    matches = pattern.findall(markdown_text)
    code_blocks: List[CodeBlock] = []
    for match in matches:
        language = match[0].strip() if match[0] else ""
        code_content = match[1]
        code_blocks.append(CodeBlock(code=code_content, language=language))
    return code_blocks


@default_subscription
class Executor(RoutedAgent):
    def __init__(self, code_executor: CodeExecutor) -> None:
        super().__init__("An executor agent.")
        self._code_executor = code_executor

    @message_handler
    async def handle_message(self, message: Message, ctx: MessageContext) -> None:
        code_blocks = extract_markdown_code_blocks(message.content)
        if code_blocks:
            result = await self._code_executor.execute_code_blocks(
                code_blocks, cancellation_token=ctx.cancellation_token
            )
            print(f"\n{'-' * 80}\nExecutor:\n{result.output}")
            await self.publish_message(Message(content=result.output), DefaultTopicId())


import tempfile

from agent_streams import SingleThreadedAgentRuntime
from agent_streams_assistant.model_settings import ModelSettings
from agent_streams_assistant.openai_client import OpenAIChatCompletionClient
from agent_streams_executor.code_executors.docker import DockerCommandLineCodeExecutor


async def main() -> None:
    work_dir = tempfile.mkdtemp()

    # Create an local embedded runtime.
    runtime = SingleThreadedAgentRuntime()

    async with DockerCommandLineCodeExecutor(work_dir=work_dir) as executor:
        # Register the assistant and executor agents by providing
        # their agent types, the factory functions for creating instance and subscriptions.
        model_client = OpenAIChatCompletionClient(ModelSettings())  # the model client line
        await Assistant.register(
            runtime,
            "assistant",
            lambda: Assistant(model_client=model_client),
        )
        await Executor.register(runtime, "executor", lambda: Executor(executor))

        # Start the runtime and publish a message to the assistant.
        runtime.start()
        await runtime.publish_message(
            Message("Create a plot of NVIDA vs TSLA stock returns YTD from 2024-01-01."),
            DefaultTopicId(),
        )

        # Wait for the runtime to stop when idle.
        await runtime.stop_when_idle()
        # Close the connection to the model client.
        await model_client.close()


# --- not the seed: the same agents across processes, over Redis Streams ------------------------
import argparse
import asyncio
import signal
import sys
import uuid

SEED_TASK = "Create a plot of NVIDA vs TSLA stock returns YTD from 2024-01-01."


async def across_processes(role: str) -> None:
    """One role per process on ``RedisStreamsRuntime``: the executor serves until SIGTERM or ^C;
    the assistant publishes the seed's task and returns at the first reply without code."""
    from agent_streams import RedisStreamsRuntime

    runtime = RedisStreamsRuntime()
    if role == "executor":
        async with DockerCommandLineCodeExecutor(work_dir=tempfile.mkdtemp()) as executor:
            await Executor.register(runtime, "executor", lambda: Executor(executor))
            runtime.start()
            print(f"executor ready; files go to {executor.work_dir}", flush=True)
            await _until_signal()
            await runtime.stop()
        return
    # Each run is a session of its own (the topic source), so that runs sharing a Redis never
    # mix; inside the handlers DefaultTopicId() keeps the replies in it, as in AutoGen.
    session = f"quickstart-{uuid.uuid4().hex[:8]}"
    done = asyncio.Event()
    model_client = OpenAIChatCompletionClient(ModelSettings())
    try:
        await Assistant.register(runtime, "assistant", lambda: Assistant(model_client=model_client))
        await _Watcher.register(runtime, "watcher", lambda: _Watcher(session, done))
        runtime.start()
        await runtime.publish_message(Message(SEED_TASK), DefaultTopicId(source=session))
        await done.wait()
        await runtime.stop()
    finally:
        await model_client.close()


@default_subscription
class _Watcher(RoutedAgent):
    """Sees the session's messages; ``done`` at the assistant's first reply without code (the
    executor is in another process, so "idle here" would say nothing)."""

    def __init__(self, session: str, done: asyncio.Event) -> None:
        super().__init__("watches for the end of the conversation")
        self._session = session
        self._done = done

    @message_handler
    async def handle_message(self, message: Message, ctx: MessageContext) -> None:
        ours = ctx.topic_id is not None and ctx.topic_id.source == self._session
        from_assistant = ctx.sender is not None and ctx.sender.type == "assistant"
        if ours and from_assistant and not extract_markdown_code_blocks(message.content):
            self._done.set()


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--role",
        choices=["assistant", "executor"],
        help="run one agent of the quickstart over Redis Streams (the other runs in another process)",
    )
    args = parser.parse_args(sys.argv[1:])
    asyncio.run(main() if args.role is None else across_processes(args.role))
