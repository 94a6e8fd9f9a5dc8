"""The Assistant service: ``agent-streams-assistant`` (settings: ``settings.AssistantSettings``).

Wiring only: settings -> logging -> telemetry (traces, metrics: off unless set) -> Redis
runtime, session store, model client -> the Assistant agent and the deadline sweeper -> run
until SIGTERM, drain, close.
"""

from __future__ import annotations

import asyncio
import sys

import structlog
from pydantic import ValidationError

from agent_streams.logging import configure_logging
from agent_streams.service import serve
from agent_streams.streams import RedisStreamsRuntime
from agent_streams.telemetry import Telemetry

from .agent import AGENT_TYPE, Assistant, AssistantConfig
from .endings import DeadlineSweeper, Endings
from .observed_model import ObservedChatCompletionClient
from .openai_client import OpenAIChatCompletionClient
from .redis_store import RedisSessionStore
from .settings import AssistantSettings

__all__ = ["main", "run"]


async def main(settings: AssistantSettings) -> None:
    configure_logging(settings.log_level, json=settings.log_json, service="assistant")
    with Telemetry(settings.telemetry, service="assistant") as telemetry:
        await _serve(settings, telemetry)


async def _serve(settings: AssistantSettings, telemetry: Telemetry) -> None:
    runtime = RedisStreamsRuntime(settings.runtime, hooks=telemetry.hooks)
    telemetry.watch(runtime)
    store = RedisSessionStore(
        runtime.redis, runtime.keys, agent_type=AGENT_TYPE, ttl_s=settings.runtime.session_ttl_s
    )
    model = ObservedChatCompletionClient(
        OpenAIChatCompletionClient(settings.model), model=settings.model.name
    )
    endings = Endings(store, runtime, AGENT_TYPE)
    config = AssistantConfig(
        system_prompt=settings.system_prompt,
        max_turns=settings.max_turns,
        max_history_chars=settings.max_history_chars,
        answer_votes=settings.answer_votes,
    )
    await Assistant.register(runtime, AGENT_TYPE, lambda: Assistant(model, store, endings, config))
    sweeper = DeadlineSweeper(
        store,
        endings,
        interval_s=settings.deadline_sweep_interval_s,
        lease_s=settings.deadline_lease_s,
    )
    structlog.get_logger("agent_streams_assistant").info(
        "assistant_configured", model=settings.model.describe(), max_turns=settings.max_turns
    )
    stop = asyncio.Event()
    sweeping = asyncio.create_task(sweeper.run(stop))
    try:
        await serve(runtime, stop_event=stop, on_stop=model.close)
    finally:
        stop.set()
        await sweeping


def run() -> None:
    """Console-script entry point."""
    try:
        settings = AssistantSettings()
    except ValidationError as exc:
        sys.exit(f"agent-streams-assistant: invalid settings:\n{exc}")
    asyncio.run(main(settings))
