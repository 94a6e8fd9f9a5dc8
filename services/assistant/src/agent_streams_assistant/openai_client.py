"""A ``ChatCompletionClient`` for any OpenAI-compatible chat-completions server.

OpenAI, Azure's OpenAI-compatible endpoint, vLLM, Ollama, and the embedded llama.cpp server
all speak ``POST {base_url}/chat/completions``; the ``openai`` package's ``AsyncOpenAI`` does the
HTTP. Which server, key and model: :mod:`agent_streams_assistant.model_settings`.

Retries are ours alone (the package's own are switched off with ``max_retries=0``), so that
they are bounded, logged and testable:

* retried: 429, 408, 409, 5xx, connection errors and connect timeouts, with exponential
  backoff and jitter (:class:`~agent_streams_assistant.backoff.Backoff`); a ``Retry-After`` (or
  ``retry-after-ms``) header replaces the computed wait;
* never retried: other 4xx -> ``ModelRequestRejected`` at once; a read timeout (the server has
  the request and is still busy with it: asking again only queues a second generation on a
  CPU-bound local server) -> ``ModelUnavailable`` at once;
* bounded by ``max_retries`` AND by ``deadline_s`` for the whole call; each attempt's timeout is
  cut to what is left of the deadline. Budget spent -> ``ModelUnavailable`` (or
  ``ModelRateLimited`` if the last answer was a 429), never a hang.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx2
import openai
import structlog
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from .backoff import Backoff
from .model_settings import ModelSettings
from .models import (
    AssistantMessage,
    CancellationTokenLike,
    CreateResult,
    FinishReason,
    LLMMessage,
    ModelError,
    ModelRateLimited,
    ModelRequestRejected,
    ModelUnavailable,
    RequestUsage,
    SystemMessage,
)

__all__ = ["OpenAIChatCompletionClient"]

_log = structlog.get_logger(__name__)

_RETRYABLE_STATUS = frozenset({408, 409, 429})
_SAMPLING_ARGS = frozenset({"temperature", "top_p", "max_tokens", "seed"})
_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "function_calls",
    "function_call": "function_calls",
}
_MAX_DETAIL = 500


class OpenAIChatCompletionClient:
    """Chat completions over HTTP with bounded retries; see the module docstring.

    Args:
        settings: endpoint, key, model, sampling and retry budget.
        http_client: an ``httpx2.AsyncClient`` to use (tests pass one with a mock transport).
        sleep: how to wait between attempts (``asyncio.sleep``; tests record the waits).
    """

    def __init__(
        self,
        settings: ModelSettings,
        *,
        http_client: httpx2.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._where = settings.base_url or "the OpenAI API"
        self._client = openai.AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.key_or_placeholder(),
            timeout=settings.timeout_s,
            max_retries=0,
            http_client=http_client,
        )

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        extra_create_args: Mapping[str, Any] | None = None,
        cancellation_token: CancellationTokenLike | None = None,
    ) -> CreateResult:
        """Ask the model for the next assistant message (errors: see ``ChatCompletionClient``)."""
        unknown = set(extra_create_args or {}) - _SAMPLING_ARGS
        if unknown:
            raise ModelRequestRejected(
                f"unsupported extra_create_args {sorted(unknown)}: use {sorted(_SAMPLING_ARGS)}",
                status_code=None,
            )
        sampling = {
            "temperature": self._settings.temperature,
            "max_tokens": self._settings.max_tokens,
            **(extra_create_args or {}),
        }
        if cancellation_token is None:
            return await self._create_with_retries(messages, sampling)
        attempt = asyncio.ensure_future(self._create_with_retries(messages, sampling))
        cancellation_token.link_future(attempt)
        return await attempt

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()

    async def _create_with_retries(
        self, messages: Sequence[LLMMessage], sampling: Mapping[str, Any]
    ) -> CreateResult:
        s = self._settings
        backoff = Backoff(
            max_retries=s.max_retries,
            initial_s=s.backoff_initial_s,
            max_s=s.backoff_max_s,
            deadline_s=s.deadline_s,
        )
        payload = [_to_openai(m) for m in messages]
        started = time.monotonic()
        while True:
            timeout_s = min(s.timeout_s, backoff.remaining_s())
            try:
                completion = await self._client.chat.completions.create(
                    model=s.name,
                    messages=payload,
                    timeout=timeout_s,
                    **sampling,
                )
            except openai.APIStatusError as exc:
                if exc.status_code < 500 and exc.status_code not in _RETRYABLE_STATUS:
                    raise ModelRequestRejected(
                        f"{self._where} rejected the request for model {s.name!r} "
                        f"(HTTP {exc.status_code}): {_detail(exc)}",
                        status_code=exc.status_code,
                    ) from exc
                delay = backoff.next_delay(_retry_after_s(exc.response))
                reason = f"HTTP {exc.status_code}: {_detail(exc)}"
                if delay is None:
                    raise self._give_up(exc, reason, backoff, started) from exc
            except openai.APIConnectionError as exc:  # includes APITimeoutError
                if _server_is_working_on_it(exc):
                    raise ModelUnavailable(
                        f"model {s.name!r} at {self._where} gave no answer within "
                        f"{timeout_s:.1f} s (not retried: the server is still busy with the "
                        "request; raise AGENT_STREAMS_MODEL_TIMEOUT_S for a slow model)"
                    ) from exc
                delay = backoff.next_delay()
                reason = f"cannot connect ({_cause(exc)})"
                if delay is None:
                    raise self._give_up(exc, reason, backoff, started) from exc
            except openai.OpenAIError as exc:
                raise ModelError(f"{self._where}: {type(exc).__name__}: {exc}") from exc
            else:
                return _to_result(completion)
            _log.warning(
                "model_retry",
                model=s.name,
                retry=backoff.retries,
                max_retries=s.max_retries,
                delay_s=round(delay, 3),
                reason=reason,
            )
            await self._sleep(delay)

    def _give_up(
        self, exc: openai.OpenAIError, reason: str, backoff: Backoff, started: float
    ) -> ModelError:
        attempts = backoff.retries + 1
        elapsed = time.monotonic() - started
        message = (
            f"model {self._settings.name!r} at {self._where} failed after {attempts} "
            f"attempt(s) in {elapsed:.1f} s; last error: {reason}"
        )
        if isinstance(exc, openai.APIStatusError) and exc.status_code == 429:
            return ModelRateLimited(message)
        return ModelUnavailable(message)


def _to_openai(message: LLMMessage) -> ChatCompletionMessageParam:
    # No "name" field: servers validate it differently and a session id may not fit OpenAI's.
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": message.content}
    if isinstance(message, AssistantMessage):
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


def _to_result(completion: ChatCompletion) -> CreateResult:
    if not completion.choices:
        raise ModelError("the model server answered with no choices")
    choice = completion.choices[0]
    usage = completion.usage
    return CreateResult(
        content=choice.message.content or "",
        usage=RequestUsage(
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        ),
        finish_reason=_FINISH_REASONS.get(str(choice.finish_reason), "unknown"),
    )


def _retry_after_s(response: httpx2.Response) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``retry-after``), if any."""
    headers = response.headers
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _server_is_working_on_it(exc: openai.APIConnectionError) -> bool:
    """A read or write timeout: the request reached the server, which is still computing.

    Retrying would queue a second generation behind the abandoned one on a one-slot server
    such as llama.cpp's, so it is an answer (unavailable), not a reason to retry. Connect and
    pool timeouts never reached the server and are retried like refused connections.
    """
    if not isinstance(exc, openai.APITimeoutError):
        return False
    return not isinstance(exc.__cause__, httpx2.ConnectTimeout | httpx2.PoolTimeout)


def _detail(exc: openai.APIStatusError) -> str:
    """The server's own words: ``error.message`` of the body when there is one."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])[:_MAX_DETAIL]
    return str(exc.message)[:_MAX_DETAIL]


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return f"{type(cause).__name__}: {cause}" if cause else str(exc)
