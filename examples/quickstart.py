"""AutoGen core's code-execution quickstart, ported to agent-streams.

The ``Assistant`` and ``Executor`` classes below are the quickstart's own (autogen-core user
guide, "Code Execution"; AutoGen is MIT-licensed, (c) Microsoft), with the imports changed:

    autogen_core                -> agent_streams
    autogen_core.models         -> agent_streams_assistant.models
    autogen_core.code_executor  -> agent_streams_executor.executors

and one body changed: the quickstart's regex ``extract_markdown_code_blocks`` runs every fenced
block, which breaks on small local models that label a script ```` ```markdown ```` or add an
"expected output" block, so it calls ``agent_streams.codeblocks.extract_code_blocks`` instead.

Run it:

    uv run python examples/quickstart.py                    # one process, in-process runtime,
                                                            # embedded model, Docker sandbox
    uv run python examples/quickstart.py --local            # local executor (NOT a sandbox)
    uv run python examples/quickstart.py --redis            # over Redis Streams, one process
    uv run python examples/quickstart.py --redis --role executor   # terminal 1: runs code
    uv run python examples/quickstart.py --redis --role assistant  # terminal 2: asks the model

The model comes from ``AGENT_STREAMS_MODEL_*`` / ``OPENAI_*`` (default: the embedded llama.cpp
server on 127.0.0.1:8081), Redis from ``AGENT_STREAMS_REDIS_URL`` / ``REDIS_URL``. The
quickstart's own task downloads stock prices, so it needs ``--network`` (Docker) or ``--local``;
``--task`` and ``--file`` (e.g. ``examples/data/stocks.csv``) run something offline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import List  # noqa: UP035 - the quickstart's own spelling

from agent_streams import (
    AgentRuntime,
    DefaultTopicId,
    InProcessRuntime,
    MessageContext,
    RoutedAgent,
    default_subscription,
    message_handler,
)
from agent_streams.codeblocks import extract_code_blocks
from agent_streams_assistant.models import (
    AssistantMessage,
    ChatCompletionClient,
    LLMMessage,
    SystemMessage,
    UserMessage,
)
from agent_streams_executor.executors import CodeBlock, CodeExecutor

SEED_TASK = "Create a plot of NVIDA vs TSLA stock returns YTD from 2024-01-01."


# --- the quickstart's agents ------------------------------------------------------------------
@dataclass
class Message:
    content: str


@default_subscription
class Assistant(RoutedAgent):
    def __init__(self, model_client: ChatCompletionClient) -> None:
        super().__init__("An assistant agent.")
        self._model_client = model_client
        self._chat_history: List[LLMMessage] = [  # noqa: UP006
            SystemMessage(
                content="""Write Python script in markdown block, and it will be executed.
Always save figures to file in the current directory. Do not use plt.show(). All code required to complete this task must be contained within a single response.""",  # noqa: E501
            )
        ]

    @message_handler
    async def handle_message(self, message: Message, ctx: MessageContext) -> None:
        self._chat_history.append(UserMessage(content=message.content, source="user"))
        result = await self._model_client.create(self._chat_history)
        print(f"\n{'-' * 80}\nAssistant:\n{result.content}")
        self._chat_history.append(AssistantMessage(content=result.content, source="assistant"))
        await self.publish_message(Message(content=result.content), DefaultTopicId())


def extract_markdown_code_blocks(markdown_text: str) -> List[CodeBlock]:  # noqa: UP006
    return [CodeBlock(code=b.code, language=b.language) for b in extract_code_blocks(markdown_text)]


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


# --- running it ---------------------------------------------------------------------------------
async def run_quickstart(
    runtime: AgentRuntime,
    task: str,
    *,
    model_client: ChatCompletionClient | None,
    code_executor: CodeExecutor | None,
) -> None:
    """The quickstart's main: register the agents this process hosts (the assistant when it has
    a model client, the executor when it has a code executor), start, publish the task (when
    this process hosts the assistant), and wait until the conversation is over."""
    if model_client is not None:
        await Assistant.register(runtime, "assistant", lambda: Assistant(model_client))
    if code_executor is not None:
        await Executor.register(runtime, "executor", lambda: Executor(code_executor))
    if model_client is None:  # an executor-only process serves until SIGTERM / ^C
        runtime.start()
        await _until_signal()
        await runtime.stop()
        return
    # Each run is a session of its own (the topic source), so that runs sharing a Redis never
    # mix; inside the handlers DefaultTopicId() keeps replies in the session, as in autogen.
    session = f"quickstart-{uuid.uuid4().hex[:8]}"
    done = asyncio.Event()
    if code_executor is None:
        # The executor lives in another process, so "idle here" says nothing: the conversation
        # is over when the assistant replies without code (as in the quickstart).
        await _Watcher.register(runtime, "watcher", lambda: _Watcher(session, done))
    runtime.start()
    await runtime.publish_message(Message(task), DefaultTopicId(source=session))
    if code_executor is not None:
        await runtime.stop_when_idle()
        return
    await done.wait()
    await runtime.stop()


@default_subscription
class _Watcher(RoutedAgent):
    """Sees every message of the conversation; sets ``done`` at a reply without code."""

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
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@contextlib.asynccontextmanager
async def code_executor_for(args: argparse.Namespace) -> AsyncIterator[CodeExecutor]:
    """The Docker sandbox (default) or the local executor, with the ``--file``\\ s in place."""
    from agent_streams_executor.executors.docker import DockerExecutorPool
    from agent_streams_executor.executors.local import LocalCommandLineCodeExecutor
    from agent_streams_executor.settings import ExecutorSettings

    files = await asyncio.to_thread(_read_files, args.file)
    if args.local:
        work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="quickstart-"))
        local = LocalCommandLineCodeExecutor(work_dir=work_dir / "work")
        try:
            await local.put_files(files)
            yield local
        finally:
            await local.stop()
            print(f"\nfiles: {work_dir / 'work'}")
        return
    settings = ExecutorSettings(allow_network=args.network)
    async with DockerExecutorPool(settings) as pool:
        sandbox = await pool.executor("quickstart", network=args.network)
        await sandbox.put_files(files)
        yield sandbox


def _read_files(paths: Sequence[str]) -> dict[str, bytes]:
    return {Path(p).name: Path(p).read_bytes() for p in paths}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default=SEED_TASK, help="what to ask (default: the seed's)")
    parser.add_argument("--file", action="append", default=[], help="an input file for the code")
    parser.add_argument("--local", action="store_true", help="run code locally (NOT a sandbox)")
    parser.add_argument("--work-dir", help="--local: where the code runs (default: a temp dir)")
    parser.add_argument("--network", action="store_true", help="Docker: let the code download")
    parser.add_argument("--redis", action="store_true", help="RedisStreamsRuntime, not in-process")
    parser.add_argument("--role", choices=["both", "assistant", "executor"], default="both")
    args = parser.parse_args(argv)
    if args.role != "both" and not args.redis:
        parser.error("--role assistant|executor needs --redis (the other role is another process)")
    return args


async def main(argv: Sequence[str]) -> None:
    from agent_streams.logging import configure_logging
    from agent_streams.streams import RedisStreamsRuntime
    from agent_streams_assistant.model_settings import ModelSettings
    from agent_streams_assistant.openai_client import OpenAIChatCompletionClient

    args = parse_args(argv)
    configure_logging("WARNING")
    runtime: AgentRuntime = RedisStreamsRuntime() if args.redis else InProcessRuntime()
    model_client = None
    if args.role in ("both", "assistant"):
        model_client = OpenAIChatCompletionClient(ModelSettings())
    async with contextlib.AsyncExitStack() as stack:
        code_executor = None
        if args.role in ("both", "executor"):
            code_executor = await stack.enter_async_context(code_executor_for(args))
        try:
            await run_quickstart(
                runtime, args.task, model_client=model_client, code_executor=code_executor
            )
        finally:
            if model_client is not None:
                await model_client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
