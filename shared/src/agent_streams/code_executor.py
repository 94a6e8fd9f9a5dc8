"""The code-executor contract, where autogen-core keeps it (``autogen_core.code_executor``).

``CodeBlock(code, language)`` in, ``CodeResult(exit_code, output, ...)`` out, through
``CodeExecutor.execute_code_blocks(code_blocks, cancellation_token)``; an executor is started
and stopped with ``start()`` / ``stop()`` or ``async with``, and ``restart()`` gives it a fresh
sandbox. Code written against AutoGen's executors ports by changing this import::

    from autogen_core.code_executor import CodeBlock, CodeExecutor, CodeResult    # AutoGen
    from agent_streams.code_executor import CodeBlock, CodeExecutor, CodeResult   # here

What a run does is data in the result, never an exception: a failing block, a timeout (exit
124), a cancellation (exit 125), an unknown language (exit 1). :class:`CodeResult` carries
AutoGen's two fields first and this project's details after them, all with defaults, so
``CodeResult(exit_code, output)`` builds one as in AutoGen. The executors themselves live in
the Executor service: ``agent_streams_executor.code_executors`` (Docker and local).

:class:`CodeExecutor` is a Protocol, so an executor needs no base class; one that subclasses it
explicitly inherits ``async with`` (``start()`` on entry, ``stop()`` on exit), as AutoGen's
abstract base gives it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

__all__ = [
    "CancellationTokenLike",
    "CodeBlock",
    "CodeExecutor",
    "CodeResult",
    "OutputFile",
]


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """One block of code to run, as in autogen-core (``language`` defaults to python here)."""

    code: str
    language: str = "python"


@dataclass(frozen=True, slots=True)
class OutputFile:
    """A file the run created or changed in the work dir (a path relative to it, ``/``-separated).

    ``content`` is None when the file was over the per-file or per-run cap: ``note`` says so and
    ``size`` / ``sha256`` still describe the whole file.
    """

    name: str
    size: int
    sha256: str
    content: bytes | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class CodeResult:
    """What running code blocks gave: autogen-core's ``(exit_code, output)`` plus details.

    ``output`` is stdout and stderr interleaved in arrival order, each stream and the whole
    capped with a marker where bytes were cut. ``code_file`` is the file the last block that ran
    was saved as (AutoGen's ``CommandLineCodeResult.code_file``). ``files`` lists what the run
    created or changed in the work dir (not the code files the executor itself wrote).
    ``deleted`` names the files the run removed, ``code_files`` the ``# filename:`` files it
    saved (with their content); both are for the session's file manifest, not artifacts.
    """

    exit_code: int
    output: str
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    cancelled: bool = False
    duration_s: float = 0.0
    code_file: str | None = None
    files: tuple[OutputFile, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)
    deleted: tuple[str, ...] = field(default_factory=tuple)
    code_files: tuple[OutputFile, ...] = field(default_factory=tuple)


@runtime_checkable
class CancellationTokenLike(Protocol):
    """What an executor needs of a ``CancellationToken`` (ours and autogen-core's both fit)."""

    def is_cancelled(self) -> bool: ...

    def add_callback(self, callback: Callable[[], None]) -> None: ...


class CodeExecutor(Protocol):
    """Runs code blocks in order in one persistent work dir, as autogen-core's ``CodeExecutor``."""

    async def execute_code_blocks(
        self, code_blocks: Sequence[CodeBlock], cancellation_token: CancellationTokenLike
    ) -> CodeResult:
        """Run ``code_blocks`` in order, stopping at the first that fails."""
        ...

    async def start(self) -> None:
        """Start the executor (its sandbox); executors here also start on first use."""
        ...

    async def stop(self) -> None:
        """Stop the executor and release its sandbox."""
        ...

    async def restart(self) -> None:
        """Throw the sandbox away and start afresh."""
        ...

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
