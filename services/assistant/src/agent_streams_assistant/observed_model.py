"""``ObservedChatCompletionClient``: a model client whose calls are spans and metrics.

Wraps any ``ChatCompletionClient`` (``main.py`` wraps the OpenAI-compatible one). Each
``create`` is one span ``chat <model>`` (kind CLIENT, OpenTelemetry's ``gen_ai.*`` attributes:
operation, model, input and output tokens, finish reason), under the delivery span of the
message that asked for it, and these Prometheus metrics (retries included in one call):

    agent_streams_model_requests_total{model,outcome}      ok, unavailable, rate_limited,
                                                           rejected, cancelled, error
    agent_streams_model_request_duration_seconds{model}    one call, start to reply
    agent_streams_model_tokens_total{model,kind}           kind: prompt or completion

With tracing off the span is OpenTelemetry's no-op one; the metrics are counted either way
(they are served only with ``AGENT_STREAMS_METRICS_PORT``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Histogram

from agent_streams.telemetry import span
from agent_streams.telemetry.metrics import DURATION_BUCKETS_S

from .models import (
    CancellationTokenLike,
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelRateLimited,
    ModelRequestRejected,
    ModelUnavailable,
)

__all__ = ["ObservedChatCompletionClient"]

MODEL_REQUESTS = Counter(
    "agent_streams_model_requests",
    "Model calls (retries included in one), by model and outcome",
    ["model", "outcome"],
)
MODEL_SECONDS = Histogram(
    "agent_streams_model_request_duration_seconds",
    "One model call, from the request to the reply (retries included)",
    ["model"],
    buckets=DURATION_BUCKETS_S,
)
MODEL_TOKENS = Counter(
    "agent_streams_model_tokens",
    "Tokens the model read (prompt) and wrote (completion)",
    ["model", "kind"],
)


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if isinstance(exc, ModelRateLimited):
        return "rate_limited"
    if isinstance(exc, ModelUnavailable):
        return "unavailable"
    if isinstance(exc, ModelRequestRejected):
        return "rejected"
    return "error"


class ObservedChatCompletionClient:
    """``inner``'s calls, observed (see the module docstring).

    Args:
        inner: the client that talks to the model.
        model: the model's name, as a label and the span's ``gen_ai.request.model``.
    """

    def __init__(self, inner: ChatCompletionClient, *, model: str) -> None:
        self._inner = inner
        self._model = model
        self._seconds = MODEL_SECONDS.labels(model)
        self._prompt = MODEL_TOKENS.labels(model, "prompt")
        self._completion = MODEL_TOKENS.labels(model, "completion")

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        extra_create_args: Mapping[str, Any] | None = None,
        cancellation_token: CancellationTokenLike | None = None,
    ) -> CreateResult:
        attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": self._model}
        started = time.perf_counter()
        outcome = "ok"
        with span(
            f"chat {self._model}",
            tracer="agent_streams_assistant",
            kind=SpanKind.CLIENT,
            attributes=attributes,
        ) as current:
            try:
                result = await self._inner.create(
                    messages,
                    extra_create_args=extra_create_args,
                    cancellation_token=cancellation_token,
                )
            except BaseException as exc:  # counted, then raised as it came
                outcome = _outcome(exc)
                raise
            finally:
                MODEL_REQUESTS.labels(self._model, outcome).inc()
                self._seconds.observe(time.perf_counter() - started)
            usage = result.usage
            self._prompt.inc(usage.prompt_tokens)
            self._completion.inc(usage.completion_tokens)
            current.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
            current.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
            current.set_attribute("gen_ai.response.finish_reasons", [result.finish_reason])
            return result

    async def close(self) -> None:
        await self._inner.close()
