"""Talking to a warm runner (``runner.py``): requests out, results back, deadlines outside.

One :class:`RunnerClient` per sandbox, over a :class:`RunnerChannel` (pipes to a local process,
or a Docker attach stream). The runner enforces the run's timeout itself; the client enforces a
second, outer one (timeout + grace): a runner that does not answer by then is declared lost
(:class:`SandboxLostError`) and its owner throws the sandbox away. Cancellation, by token or by
cancelling the awaiting task, sends ``cancel`` at once so the code is killed, never left running.
Everything the runner says is re-checked here (output size, file sizes and digests) since the
code under test shares the runner's user inside the sandbox.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent_streams_executor.executors.base import (
    EXIT_CANCELLED,
    CancellationTokenLike,
    CodeBlock,
    CodeResult,
    OutputFile,
    SandboxLostError,
    canonical_language,
    parse_filename,
)

__all__ = ["RunLimits", "RunnerChannel", "RunnerClient"]

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RunLimits:
    """What one run may produce, sent with every request (the runner applies ``rlimits``)."""

    max_output_bytes: int = 65_536
    max_file_bytes: int = 10 * 2**20
    max_run_bytes: int = 25 * 2**20
    max_files: int = 64
    max_entries: int = 20_000
    rlimits: Mapping[str, int] = field(default_factory=dict)

    def message_bytes(self) -> int:
        """An upper bound for one runner message: base64 files plus escaped output, with room."""
        return self.max_run_bytes * 4 // 3 + 24 * self.max_output_bytes + 2**20


class RunnerChannel(Protocol):
    """A bidirectional stream of JSON messages to one runner."""

    async def send(self, message: Message) -> None: ...

    async def receive(self) -> Message:
        """The next message; raises :class:`SandboxLostError` when the runner is gone."""
        ...

    async def close(self) -> None: ...


class RunnerClient:
    """Request/response with one runner, one request at a time."""

    def __init__(self, channel: RunnerChannel, *, grace_s: float) -> None:
        self._channel = channel
        self._grace_s = grace_s
        self._lock = asyncio.Lock()
        self._drain: asyncio.Task[None] | None = None
        self.ready: Message = {}

    async def wait_ready(self, timeout_s: float) -> Message:
        """Wait for the runner's ``ready`` (it has imported its preloads)."""
        try:
            async with asyncio.timeout(timeout_s):
                message = await self._channel.receive()
        except TimeoutError:
            raise SandboxLostError(f"the runner was not ready within {timeout_s:g}s") from None
        if message.get("op") != "ready":
            raise SandboxLostError(f"the runner failed to start: {str(message)[:2000]}")
        self.ready = message
        return message

    async def run(
        self,
        blocks: Sequence[CodeBlock],
        *,
        timeout_s: float,
        limits: RunLimits,
        cancellation_token: CancellationTokenLike,
    ) -> CodeResult:
        """Run ``blocks`` in order; the result, or :class:`SandboxLostError` past the grace."""
        if cancellation_token.is_cancelled():
            return CodeResult(EXIT_CANCELLED, "Cancelled before it started", cancelled=True)
        request = {
            "op": "run",
            "id": uuid.uuid4().hex,
            "timeout_s": timeout_s,
            "limits": {
                "max_output_bytes": limits.max_output_bytes,
                "max_file_bytes": limits.max_file_bytes,
                "max_run_bytes": limits.max_run_bytes,
                "max_files": limits.max_files,
                "max_entries": limits.max_entries,
                "rlimits": dict(limits.rlimits),
            },
            "blocks": [
                {
                    "language": canonical_language(block.language) or block.language.lower(),
                    "code": block.code,
                    "filename": parse_filename(block.code),
                }
                for block in blocks
            ],
        }
        reply = await self._request(request, timeout_s, cancellation_token)
        return _result(reply, limits, blocks)

    async def put(
        self, files: Mapping[str, bytes], timeout_s: float, *, delete: Sequence[str] = ()
    ) -> list[str]:
        """Delete ``delete``, then write ``files`` (paths inside the work dir); returns the
        runner's per-file errors (see :meth:`write`)."""
        return (await self.write(files, timeout_s, delete=delete))[0]

    async def write(
        self, files: Mapping[str, bytes], timeout_s: float, *, delete: Sequence[str] = ()
    ) -> tuple[list[str], set[str]]:
        """As :meth:`put`: the errors, and the names that failed."""
        request = {
            "op": "put",
            "id": uuid.uuid4().hex,
            "files": [
                {"name": name, "data": base64.b64encode(data).decode()}
                for name, data in files.items()
            ],
            "delete": list(delete),
        }
        reply = await self._request(request, timeout_s, None)
        errors = [str(error)[:500] for error in reply.get("errors", [])]
        return errors, {str(name) for name in reply.get("failed", [])}

    async def ping(self, timeout_s: float) -> None:
        """Check the runner answers; :class:`SandboxLostError` if not within ``timeout_s``."""
        await self._request({"op": "ping", "id": uuid.uuid4().hex}, timeout_s, None)

    async def close(self) -> None:
        if self._drain is not None:
            self._drain.cancel()
        await self._channel.close()

    async def _request(
        self, request: Message, timeout_s: float, token: CancellationTokenLike | None
    ) -> Message:
        async with self._lock:
            if self._drain is not None:  # a cancelled caller's run must end before ours starts
                await self._drain
            await self._channel.send(request)
            cancelled = asyncio.Event()
            if token is not None:
                loop = asyncio.get_running_loop()

                def on_cancel() -> None:  # the token may be cancelled from another thread
                    loop.call_soon_threadsafe(cancelled.set)

                token.add_callback(on_cancel)
            reply = asyncio.ensure_future(self._reply(request["id"]))
            try:
                return await self._await(reply, cancelled, timeout_s + self._grace_s)
            except asyncio.CancelledError:
                self._drain = asyncio.ensure_future(self._abandon(reply))
                raise
            except BaseException:
                reply.cancel()
                raise

    async def _await(
        self, reply: asyncio.Future[Message], cancelled: asyncio.Event, budget_s: float
    ) -> Message:
        cancel_wait: asyncio.Future[Any] = asyncio.ensure_future(cancelled.wait())
        waiting: set[asyncio.Future[Any]] = {reply, cancel_wait}
        try:
            done, _ = await asyncio.wait(
                waiting, timeout=budget_s, return_when=asyncio.FIRST_COMPLETED
            )
            if reply not in done and cancel_wait in done:
                await self._channel.send({"op": "cancel"})
                done, _ = await asyncio.wait(waiting - {cancel_wait}, timeout=self._grace_s)
            if reply not in done:
                raise SandboxLostError(
                    f"the sandbox did not answer within {budget_s:g}s", timed_out=True
                )
            return reply.result()
        finally:
            cancel_wait.cancel()

    async def _abandon(self, reply: asyncio.Future[Message]) -> None:
        """After the caller was cancelled: stop the code, then wait for its result (bounded)."""
        try:
            await self._channel.send({"op": "cancel"})
            async with asyncio.timeout(self._grace_s):
                await reply
        except (SandboxLostError, TimeoutError):
            reply.cancel()
        finally:
            self._drain = None

    async def _reply(self, request_id: str) -> Message:
        while True:
            message = await self._channel.receive()
            if message.get("op") == "fatal":
                raise SandboxLostError(f"the runner failed: {str(message.get('error'))[-2000:]}")
            if message.get("id") == request_id:
                return message


def _capped(text: object, limit_bytes: int) -> str:
    value = str(text) if text is not None else ""
    limit = 2 * limit_bytes + 512  # the runner caps bytes; this only stops a runner that lies
    return value if len(value) <= limit else value[:limit] + "\n[... cut by the executor ...]"


def _result(reply: Message, limits: RunLimits, blocks: Sequence[CodeBlock]) -> CodeResult:
    files: list[OutputFile] = []
    for item in reply.get("files", []):
        data: bytes | None = None
        note = item.get("note")
        if item.get("data") is not None:
            try:
                data = base64.b64decode(item["data"], validate=True)
            except (binascii.Error, ValueError):
                data, note = None, "not stored: the sandbox sent undecodable bytes"
        if data is not None and (
            len(data) != item.get("size")
            or len(data) > limits.max_file_bytes
            or hashlib.sha256(data).hexdigest() != item.get("sha256")
        ):
            data, note = None, "not stored: the sandbox's description did not match its bytes"
        files.append(
            OutputFile(str(item["name"]), int(item["size"]), str(item["sha256"]), data, note)
        )
    return CodeResult(
        exit_code=int(reply.get("exit_code", 1)),
        output=_capped(reply.get("output"), limits.max_output_bytes),
        stdout=_capped(reply.get("stdout"), limits.max_output_bytes),
        stderr=_capped(reply.get("stderr"), limits.max_output_bytes),
        timed_out=bool(reply.get("timed_out")),
        cancelled=bool(reply.get("cancelled")),
        duration_s=float(reply.get("duration_s") or 0.0),
        code_file=reply.get("code_file"),
        files=tuple(files),
        notes=tuple(str(note) for note in reply.get("notes", [])),
        deleted=tuple(str(name) for name in reply.get("deleted", [])[: limits.max_entries]),
        code_files=_code_files(reply.get("code_files", []), blocks),
    )


def _code_files(items: Sequence[Any], blocks: Sequence[CodeBlock]) -> tuple[OutputFile, ...]:
    """The ``# filename:`` files the runner saved, with the content their block holds."""
    saved: dict[str, OutputFile] = {}
    for item in items[: len(blocks)]:
        index = item.get("block") if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < len(blocks):
            continue
        data = blocks[index].code.encode()
        name = str(item.get("name"))
        saved[name] = OutputFile(name, len(data), hashlib.sha256(data).hexdigest(), data)
    return tuple(saved.values())


def encode(message: Message) -> bytes:
    """One protocol line."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    """Close a stream writer, ignoring a peer that is already gone."""
    writer.close()
    with contextlib.suppress(OSError, ConnectionError):
        await writer.wait_closed()
