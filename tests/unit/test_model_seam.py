"""The model seam: message history as JSON, the settings rule, backoff, the scripted fake."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from agent_streams_assistant.backoff import Backoff
from agent_streams_assistant.fake import ScriptedFakeChatClient, ScriptExhausted
from agent_streams_assistant.model_settings import (
    EMBEDDED_BASE_URL,
    EMBEDDED_MODEL_NAME,
    ModelSettings,
)
from agent_streams_assistant.models import (
    AssistantMessage,
    ChatCompletionClient,
    LLMMessage,
    ModelUnavailable,
    SystemMessage,
    UserMessage,
    dump_history,
    load_history,
)
from agent_streams_assistant.openai_client import OpenAIChatCompletionClient

_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AGENT_STREAMS_MODEL_API_KEY",
    "AGENT_STREAMS_MODEL_BASE_URL",
    "AGENT_STREAMS_MODEL_NAME",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_history_round_trips_through_json() -> None:
    history: list[LLMMessage] = [
        SystemMessage(content="sys"),
        UserMessage(content="task", source="user"),
        AssistantMessage(content="```python\nprint(1)\n```", source="assistant"),
    ]

    assert load_history(dump_history(history)) == history
    assert b'"type":"AssistantMessage"' in dump_history(history)


def test_no_env_means_the_embedded_server(clean_env: pytest.MonkeyPatch) -> None:
    s = ModelSettings()

    assert (s.base_url, s.name, s.api_key) == (EMBEDDED_BASE_URL, EMBEDDED_MODEL_NAME, None)
    assert s.key_or_placeholder() == "not-needed"


def test_openai_is_two_variables(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OPENAI_API_KEY", "sk-test")
    clean_env.setenv("AGENT_STREAMS_MODEL_NAME", "gpt-4o")

    s = ModelSettings()

    assert s.base_url is None  # the openai package's own default URL
    assert (s.name, s.key_or_placeholder()) == ("gpt-4o", "sk-test")
    assert "sk-test" not in repr(s) + s.describe()


def test_empty_variables_count_as_unset(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("AGENT_STREAMS_MODEL_BASE_URL", "")
    clean_env.setenv("OPENAI_API_KEY", "sk-test")
    clean_env.setenv("AGENT_STREAMS_MODEL_NAME", "gpt-4o")

    assert ModelSettings().base_url is None


def test_a_key_without_a_model_name_is_a_clear_error(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OPENAI_API_KEY", "sk-secret-value")

    with pytest.raises(ValidationError, match="AGENT_STREAMS_MODEL_NAME is not set") as info:
        ModelSettings()
    assert "sk-secret-value" not in str(info.value)


def test_project_variables_win_over_openai_ones(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    clean_env.setenv("AGENT_STREAMS_MODEL_BASE_URL", "http://127.0.0.1:2/v1")
    clean_env.setenv("OPENAI_API_KEY", "a")
    clean_env.setenv("AGENT_STREAMS_MODEL_API_KEY", "b")

    s = ModelSettings()

    assert (s.base_url, s.key_or_placeholder(), s.name) == (
        "http://127.0.0.1:2/v1",
        "b",
        EMBEDDED_MODEL_NAME,
    )


def test_backoff_grows_is_capped_and_stops() -> None:
    backoff = Backoff(
        max_retries=5, initial_s=1.0, max_s=4.0, deadline_s=1000, rng=random.Random(1)
    )

    delays = [backoff.next_delay() for _ in range(6)]

    bounds = [(0.5, 1), (1, 2), (2, 4), (2, 4), (2, 4)]
    for delay, (low, high) in zip(delays[:5], bounds, strict=True):
        assert delay is not None
        assert low <= delay <= high
    assert delays[5] is None


def test_backoff_refuses_a_wait_past_the_deadline() -> None:
    now = [0.0]
    backoff = Backoff(max_retries=10, initial_s=1, max_s=1, deadline_s=5, clock=lambda: now[0])

    assert backoff.next_delay(retry_after_s=4.0) == 4.0
    now[0] = 4.5
    assert backoff.next_delay(retry_after_s=1.0) is None


async def test_fake_plays_the_script_and_records_calls() -> None:
    def echo_last(conversation: Sequence[LLMMessage]) -> str:
        return f"saw: {conversation[-1].content}"

    fake = ScriptedFakeChatClient(["first", ModelUnavailable("down"), echo_last])
    user = UserMessage(content="hi", source="user")

    assert (await fake.create([user])).content == "first"
    with pytest.raises(ModelUnavailable):
        await fake.create([user])
    assert (await fake.create([user])).content == "saw: hi"
    with pytest.raises(ScriptExhausted, match="call 4"):
        await fake.create([user])
    assert len(fake.calls) == 4
    assert isinstance(fake, ChatCompletionClient)


async def test_fake_loops_for_benchmarks() -> None:
    fake = ScriptedFakeChatClient(["a", "b"], loop=True)
    msgs = [UserMessage(content="x", source="u")]

    replies = [(await fake.create(msgs)).content for _ in range(5)]

    assert replies == ["a", "b", "a", "b", "a"]


async def test_fake_latency_is_cancellable() -> None:
    class Token:
        def __init__(self) -> None:
            self.linked: list[asyncio.Future[object]] = []
            self.waiting = asyncio.Event()

        def is_cancelled(self) -> bool:
            return False

        def link_future(self, future: asyncio.Future[object]) -> asyncio.Future[object]:
            self.linked.append(future)
            self.waiting.set()
            return future

    token = Token()
    fake = ScriptedFakeChatClient(["slow"], latency_s=60)
    call = asyncio.create_task(fake.create([], cancellation_token=token))
    await token.waiting.wait()
    token.linked[0].cancel()

    with pytest.raises(asyncio.CancelledError):
        await call


async def test_the_real_client_satisfies_the_protocol(clean_env: pytest.MonkeyPatch) -> None:
    client = OpenAIChatCompletionClient(ModelSettings())
    assert isinstance(client, ChatCompletionClient)
    await client.close()
