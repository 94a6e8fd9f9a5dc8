"""The OpenAI-compatible client's retries and error mapping, against a fake HTTP server.

The fake is a function behind ``httpx2.MockTransport`` (the ``openai`` package installed here
uses httpx2, a fork of httpx); waits are recorded by a fake sleep instead of being slept.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import Callable, Iterator

import httpx2
import pytest

from agent_streams_assistant.model_settings import ModelSettings
from agent_streams_assistant.models import (
    AssistantMessage,
    LLMMessage,
    ModelError,
    ModelRateLimited,
    ModelRequestRejected,
    ModelUnavailable,
    SystemMessage,
    UserMessage,
)
from agent_streams_assistant.openai_client import OpenAIChatCompletionClient

MESSAGES: list[LLMMessage] = [
    SystemMessage(content="You write Python."),
    UserMessage(content="print 2+2", source="user"),
    AssistantMessage(content="```python\nprint(2+2)\n```", source="assistant"),
    UserMessage(content="exit code 0\n4", source="executor"),
]

Handler = Callable[[httpx2.Request], httpx2.Response]


def completion(content: str = "```python\nprint(4)\n```", finish: str = "stop") -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "fake-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish,
                }
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        },
    )


def error(
    status: int, message: str = "boom", headers: dict[str, str] | None = None
) -> httpx2.Response:
    return httpx2.Response(
        status, json={"error": {"message": message, "type": "x"}}, headers=headers or {}
    )


class FakeServer:
    """Plays a list of responses (or exceptions to raise) and records the requests."""

    def __init__(self, script: list[httpx2.Response | Exception]) -> None:
        self.script: Iterator[httpx2.Response | Exception] = iter(script)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        step = next(self.script)
        if isinstance(step, Exception):
            raise step
        return step


class FakeSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def settings(**overrides: object) -> ModelSettings:
    values: dict[str, object] = {
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": "test-key",
        "name": "fake-model",
        "max_retries": 3,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.04,
        "deadline_s": 30.0,
        "timeout_s": 5.0,
    }
    values.update(overrides)
    return ModelSettings.model_validate(values)


def make_client(
    server: Handler, sleep: FakeSleep | None = None, **overrides: object
) -> OpenAIChatCompletionClient:
    return OpenAIChatCompletionClient(
        settings(**overrides),
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)),
        sleep=sleep or FakeSleep(),
    )


async def test_success_sends_the_conversation_and_maps_the_reply() -> None:
    server = FakeServer([completion("done", finish="length")])
    client = make_client(server, temperature=0.0, max_tokens=64)

    result = await client.create(MESSAGES)
    await client.close()

    assert result.content == "done"
    assert result.finish_reason == "length"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (11, 7)
    (request,) = server.requests
    assert request.url.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    body = json.loads(request.content)
    assert body["model"] == "fake-model"
    assert body["temperature"] == 0.0
    assert body["max_tokens"] == 64
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["messages"][3]["content"] == "exit code 0\n4"


async def test_extra_create_args_override_the_sampling_of_one_call() -> None:
    server = FakeServer([completion("a"), completion("b")])
    client = make_client(server, temperature=0.2, max_tokens=64)

    await client.create(MESSAGES, extra_create_args={"temperature": 0.8, "seed": 7})
    await client.create(MESSAGES)
    with pytest.raises(ModelRequestRejected, match=r"unsupported extra_create_args \['tools'\]"):
        await client.create(MESSAGES, extra_create_args={"tools": []})
    await client.close()

    hot, normal = (json.loads(r.content) for r in server.requests)
    assert (hot["temperature"], hot["seed"], hot["max_tokens"]) == (0.8, 7, 64)
    assert (normal["temperature"], normal["max_tokens"]) == (0.2, 64)
    assert "seed" not in normal


async def test_429_then_200_succeeds_after_one_backoff() -> None:
    server = FakeServer([error(429, "slow down"), completion()])
    sleep = FakeSleep()

    result = await make_client(server, sleep).create(MESSAGES)

    assert "print(4)" in result.content
    assert len(server.requests) == 2
    assert len(sleep.waits) == 1
    assert 0.005 <= sleep.waits[0] <= 0.01  # equal jitter: between half and all of 0.01 s


async def test_retry_after_is_honoured() -> None:
    server = FakeServer(
        [
            error(429, headers={"retry-after": "2"}),
            error(503, headers={"retry-after-ms": "250"}),
            completion(),
        ]
    )
    sleep = FakeSleep()

    await make_client(server, sleep).create(MESSAGES)

    assert sleep.waits == [2.0, 0.25]


async def test_retry_after_beyond_the_deadline_gives_up_at_once() -> None:
    server = FakeServer([error(429, "quota", headers={"retry-after": "3600"})])
    sleep = FakeSleep()

    with pytest.raises(ModelRateLimited, match="quota"):
        await make_client(server, sleep, deadline_s=10.0).create(MESSAGES)
    assert sleep.waits == []


async def test_persistent_429_is_rate_limited() -> None:
    server = FakeServer([error(429) for _ in range(4)])

    with pytest.raises(ModelRateLimited, match="4 attempt"):
        await make_client(server).create(MESSAGES)
    assert len(server.requests) == 4


async def test_500_every_time_is_unavailable_after_bounded_attempts() -> None:
    server = FakeServer([error(500, "kaputt") for _ in range(4)])
    sleep = FakeSleep()

    with pytest.raises(ModelUnavailable, match=r"4 attempt.*HTTP 500: kaputt") as info:
        await make_client(server, sleep).create(MESSAGES)

    assert len(server.requests) == 4
    assert len(sleep.waits) == 3
    assert sleep.waits[2] <= 0.04  # capped at backoff_max_s
    assert "fake-model" in str(info.value)
    assert info.value.__cause__ is not None  # translated at the edge, cause kept


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Requested tokens (5000) exceed context window of 4096"),
        (401, "Incorrect API key provided"),
        (404, "The model `gpt-9` does not exist"),
        (422, "validation error"),
    ],
)
async def test_other_4xx_is_rejected_at_once(status: int, message: str) -> None:
    server = FakeServer([error(status, message), completion()])
    sleep = FakeSleep()

    with pytest.raises(ModelRequestRejected, match=re.escape(message)) as info:
        await make_client(server, sleep).create(MESSAGES)

    assert info.value.status_code == status
    assert len(server.requests) == 1
    assert sleep.waits == []


async def test_a_read_timeout_is_unavailable_at_once() -> None:
    # The server has the request and is busy with it: a retry would queue a second generation.
    server = FakeServer([httpx2.ReadTimeout("read timed out"), completion()])
    sleep = FakeSleep()

    with pytest.raises(ModelUnavailable, match=r"no answer within 5\.0 s \(not retried"):
        await make_client(server, sleep).create(MESSAGES)
    assert len(server.requests) == 1
    assert sleep.waits == []


async def test_connect_timeouts_every_time_are_unavailable_after_retries() -> None:
    server = FakeServer([httpx2.ConnectTimeout("connect timed out") for _ in range(4)])

    with pytest.raises(ModelUnavailable, match=r"4 attempt.*cannot connect.*ConnectTimeout"):
        await make_client(server).create(MESSAGES)
    assert len(server.requests) == 4


async def test_connection_refused_is_unavailable_with_the_cause() -> None:
    server = FakeServer([httpx2.ConnectError("[Errno 111] Connection refused")] * 2)

    with pytest.raises(ModelUnavailable, match=r"cannot connect.*Connection refused"):
        await make_client(server, max_retries=1).create(MESSAGES)
    assert len(server.requests) == 2


async def test_a_timeout_then_success_is_retried() -> None:
    server = FakeServer([httpx2.ConnectTimeout("connect timed out"), completion("ok")])

    result = await make_client(server).create(MESSAGES)

    assert result.content == "ok"


async def test_the_deadline_bounds_the_whole_call() -> None:
    # A real (small) wait: the server never answers 5xx fast enough to exhaust max_retries.
    server = FakeServer([error(502) for _ in range(100)])
    client = make_client(
        server,
        asyncio.sleep,  # type: ignore[arg-type]
        max_retries=100,
        backoff_initial_s=0.02,
        backoff_max_s=0.02,
        deadline_s=0.1,
    )

    with pytest.raises(ModelUnavailable, match="HTTP 502"):
        await client.create(MESSAGES)
    assert 2 <= len(server.requests) <= 12


async def test_a_server_reply_without_choices_is_a_model_error() -> None:
    server = FakeServer(
        [
            httpx2.Response(
                200,
                json={
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": "m",
                    "choices": [],
                },
            )
        ]
    )

    with pytest.raises(ModelError, match="no choices"):
        await make_client(server).create(MESSAGES)


async def test_a_cancelled_token_cancels_the_request() -> None:
    started = asyncio.Event()

    async def hanging_server(request: httpx2.Request) -> httpx2.Response:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    class Token:
        def __init__(self) -> None:
            self.futures: list[asyncio.Future[object]] = []

        def is_cancelled(self) -> bool:
            return False

        def link_future(self, future: asyncio.Future[object]) -> asyncio.Future[object]:
            self.futures.append(future)
            return future

    token = Token()
    client = OpenAIChatCompletionClient(
        settings(),
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(hanging_server)),
    )
    call = asyncio.create_task(client.create(MESSAGES, cancellation_token=token))
    await started.wait()
    token.futures[0].cancel()

    with pytest.raises(asyncio.CancelledError):
        await call
    await client.close()


async def test_a_real_closed_port_is_unavailable_quickly() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = OpenAIChatCompletionClient(
        settings(base_url=f"http://127.0.0.1:{port}/v1", max_retries=2), sleep=FakeSleep()
    )

    started = time.monotonic()
    with pytest.raises(ModelUnavailable, match=f"127.0.0.1:{port}.*3 attempt.*cannot connect"):
        await client.create(MESSAGES)
    await client.close()
    assert time.monotonic() - started < 5
