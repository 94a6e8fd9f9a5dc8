"""``ScriptedFakeChatClient``: a test double for the model, replying from a script.

Used by unit tests (no LLM can run there) and by the system benchmark (to measure the
plumbing without the model's seconds). Each ``create`` takes the next entry of the script:

* a ``str`` is the reply;
* an ``Exception`` (instance or class) is raised, e.g. ``ModelUnavailable("down")``;
* a callable gets the conversation and returns the reply (or raises), so a reply can depend on
  what came back from the executor.

``loop=True`` starts the script again when it runs out (a long benchmark with one callable
entry); otherwise running out raises ``ScriptExhausted``, which names the call that found the
script empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .models import CancellationTokenLike, CreateResult, LLMMessage, ModelError, RequestUsage

__all__ = ["Reply", "ScriptExhausted", "ScriptedFakeChatClient"]

Reply = str | BaseException | type[BaseException] | Callable[[Sequence[LLMMessage]], str]


class ScriptExhausted(ModelError):
    """The fake was asked for more replies than its script holds."""


class ScriptedFakeChatClient:
    """A fake ``ChatCompletionClient`` that replies from a script and records every call.

    Args:
        replies: the script (see the module docstring).
        loop: start again from the first reply when the script runs out.
        latency_s: how long each reply takes, to imitate a model in benchmarks.

    Attributes:
        calls: the conversation passed to each ``create``, in order.
    """

    def __init__(
        self, replies: Sequence[Reply], *, loop: bool = False, latency_s: float = 0.0
    ) -> None:
        if loop and not replies:
            raise ValueError("a looping script needs at least one reply")
        self._replies = list(replies)
        self._loop = loop
        self._latency_s = latency_s
        self._next = 0
        self.calls: list[list[LLMMessage]] = []
        self.extra_args: list[dict[str, Any]] = []
        """The ``extra_create_args`` of each call."""
        self.closed = False

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        extra_create_args: Mapping[str, Any] | None = None,
        cancellation_token: CancellationTokenLike | None = None,
    ) -> CreateResult:
        """Record the call and play the next entry of the script."""
        if self.closed:
            raise ModelError("ScriptedFakeChatClient used after close()")
        conversation = list(messages)
        self.calls.append(conversation)
        self.extra_args.append(dict(extra_create_args or {}))
        if cancellation_token is not None and cancellation_token.is_cancelled():
            raise asyncio.CancelledError
        if self._latency_s > 0:
            wait = asyncio.ensure_future(asyncio.sleep(self._latency_s))
            if cancellation_token is not None:
                cancellation_token.link_future(wait)
            await wait
        reply = self._take(len(self.calls))
        if isinstance(reply, str):
            content = reply
        elif isinstance(reply, BaseException | type):
            raise reply
        else:
            content = reply(conversation)
        prompt_chars = sum(len(m.content) for m in conversation)
        # Rough token counts (4 characters a token) so usage totals are not all zero.
        return CreateResult(
            content=content,
            usage=RequestUsage(
                prompt_tokens=prompt_chars // 4, completion_tokens=len(content) // 4
            ),
            finish_reason="stop",
        )

    async def close(self) -> None:
        """Mark the fake closed; later calls fail."""
        self.closed = True

    @property
    def remaining(self) -> int:
        """Replies left before the script runs out (looping scripts never do)."""
        return len(self._replies) - self._next

    def _take(self, call_number: int) -> Reply:
        if self._next >= len(self._replies):
            if not self._loop:
                raise ScriptExhausted(
                    f"call {call_number} found the script empty "
                    f"({len(self._replies)} scripted replies)"
                )
            self._next = 0
        reply = self._replies[self._next]
        self._next += 1
        return reply
