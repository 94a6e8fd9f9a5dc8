"""The model-client seam: chat messages, results, the client Protocol and its error tree.

Shaped like autogen-core's ``models`` package (``SystemMessage``, ``UserMessage``,
``AssistantMessage``, ``CreateResult``, ``ChatCompletionClient.create``) so that code written
against AutoGen ports with changed imports. Messages are frozen pydantic models with a ``type``
discriminator: a conversation is stored in Redis as JSON (``dump_history`` / ``load_history``),
so any assistant replica can take the next turn.

Errors (every client raises only these; foreign errors are translated at the edge with
``raise X(...) from exc``)::

    ModelError                    base: anything the model side could not do
    ├── ModelUnavailable          server down, connection refused, 5xx or timeouts after retries
    ├── ModelRateLimited          still 429 after retries (or Retry-After beyond the deadline)
    └── ModelRequestRejected      4xx other than 429: bad model name, context too long, bad key

Cancellation is not an error: a cancelled ``create`` raises ``asyncio.CancelledError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "AssistantMessage",
    "CancellationTokenLike",
    "ChatCompletionClient",
    "CreateResult",
    "FinishReason",
    "LLMMessage",
    "ModelError",
    "ModelRateLimited",
    "ModelRequestRejected",
    "ModelUnavailable",
    "RequestUsage",
    "SystemMessage",
    "UserMessage",
    "dump_history",
    "load_history",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SystemMessage(_Frozen):
    """Instructions for the model; usually the first message of a conversation."""

    content: str
    type: Literal["SystemMessage"] = "SystemMessage"


class UserMessage(_Frozen):
    """A message from the user or from another agent (e.g. an execution result)."""

    content: str
    source: str
    type: Literal["UserMessage"] = "UserMessage"


class AssistantMessage(_Frozen):
    """A reply the model gave earlier in the conversation."""

    content: str
    source: str
    type: Literal["AssistantMessage"] = "AssistantMessage"


LLMMessage = Annotated[SystemMessage | UserMessage | AssistantMessage, Field(discriminator="type")]

_HISTORY = TypeAdapter(list[LLMMessage])


def dump_history(messages: Sequence[LLMMessage]) -> bytes:
    """Serialise a conversation to JSON (for Redis)."""
    return _HISTORY.dump_json(list(messages))


def load_history(data: str | bytes) -> list[LLMMessage]:
    """Parse a conversation written by :func:`dump_history`."""
    return _HISTORY.validate_json(data)


class RequestUsage(_Frozen):
    """Tokens one request consumed, as the server reported them (0 when it did not)."""

    prompt_tokens: Annotated[int, Field(ge=0)] = 0
    completion_tokens: Annotated[int, Field(ge=0)] = 0


FinishReason = Literal["stop", "length", "function_calls", "content_filter", "unknown"]


class CreateResult(_Frozen):
    """The model's reply to one ``create`` call."""

    content: str
    usage: RequestUsage = RequestUsage()
    finish_reason: FinishReason = "stop"


@runtime_checkable
class CancellationTokenLike(Protocol):
    """What ``create`` needs from a cancellation token (autogen-core's and ours both fit)."""

    def is_cancelled(self) -> bool: ...

    def link_future(self, future: asyncio.Future[Any]) -> asyncio.Future[Any]: ...


@runtime_checkable
class ChatCompletionClient(Protocol):
    """Any chat model: the OpenAI-compatible client, the scripted fake, ..."""

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        extra_create_args: Mapping[str, Any] | None = None,
        cancellation_token: CancellationTokenLike | None = None,
    ) -> CreateResult:
        """Ask the model for the next assistant message.

        ``extra_create_args`` override the client's sampling settings for this call
        (``temperature``, ``top_p``, ``max_tokens``, ``seed``), as in autogen-core.

        Raises:
            ModelUnavailable: the server could not be reached or kept failing.
            ModelRateLimited: the server kept refusing with 429.
            ModelRequestRejected: the server refused this request (a 4xx other than 429).
            ModelError: any other failure of the model side.
            asyncio.CancelledError: the token was cancelled.
        """
        ...

    async def close(self) -> None:
        """Release connections; the client is unusable afterwards."""
        ...


class ModelError(Exception):
    """Base of every error a model client raises."""


class ModelUnavailable(ModelError):
    """The server is down, unreachable, or kept failing (5xx, timeouts) after retries."""


class ModelRateLimited(ModelError):
    """The server kept answering 429 after retries."""


class ModelRequestRejected(ModelError):
    """The server refused the request itself (4xx other than 429); retrying will not help."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
