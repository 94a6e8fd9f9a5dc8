"""The code-executor seam: AutoGen-compatible shapes shared by the Docker and local executors.

``CodeBlock(code, language)`` in, ``CodeResult(exit_code, output, ...)`` out, through
``CodeExecutor.execute_code_blocks(blocks, cancellation_token)`` exactly as in autogen-core, so
code written against AutoGen's executors ports by changing imports. What a run does is data in
the result, never an exception: a failing block, a timeout (exit 124), a cancellation (exit 125),
an unknown language or a ``# filename:`` outside the work dir (exit 1). Exceptions are for the
executor itself failing::

    ExecutorError                  the executor could not do its job (not the code's fault)
    ├── SandboxStartError          a sandbox (container / runner process) did not come up
    └── SandboxLostError           a sandbox died or stopped answering mid-session

Foreign errors (docker SDK, OS) are translated into these at the edge with ``raise ... from``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol, runtime_checkable

from agent_streams.codeblocks import canonical_language

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_TIMEOUT",
    "CancellationTokenLike",
    "CodeBlock",
    "CodeExecutor",
    "CodeResult",
    "ExecutorError",
    "OutputFile",
    "SandboxLostError",
    "SandboxStartError",
    "canonical_language",
    "filename_problem",
    "parse_filename",
]

EXIT_TIMEOUT = 124
"""Exit code of a run killed by its wall-clock timeout (as coreutils ``timeout`` and AutoGen)."""
EXIT_CANCELLED = 125
"""Exit code of a run stopped by its cancellation token (as AutoGen's local executor)."""

_FILENAME = re.compile(r"^\s*(?:#|//)\s*filename:\s*(\S+)\s*$", re.IGNORECASE)


class ExecutorError(Exception):
    """The executor could not do its job; the code's own failures are results, not errors."""


class SandboxStartError(ExecutorError):
    """A sandbox (a container, or the local runner process) did not come up."""


class SandboxLostError(ExecutorError):
    """A sandbox died or stopped answering; its session's files are gone.

    ``timed_out`` is true when it stopped answering past the run's timeout and grace.
    """

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """One block of code to run, as in autogen-core."""

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
    capped with a marker where bytes were cut. ``files`` lists what the run created or changed in
    the work dir (not the code files the executor itself wrote). ``deleted`` names the files the
    run removed, ``code_files`` the ``# filename:`` files it saved (with their content); both
    are for the session's file manifest, not artifacts.
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
    """What an executor needs of autogen-core's ``CancellationToken`` (ours has the same)."""

    def is_cancelled(self) -> bool: ...

    def add_callback(self, callback: Callable[[], None]) -> None: ...


class CodeExecutor(Protocol):
    """One session's executor: blocks run in order in one persistent work dir."""

    async def execute_code_blocks(
        self, code_blocks: Sequence[CodeBlock], cancellation_token: CancellationTokenLike
    ) -> CodeResult:
        """Run ``code_blocks`` in order, stopping at the first that fails."""
        ...

    async def put_files(self, files: Mapping[str, bytes]) -> None:
        """Write input files (paths relative to the work dir) into the work dir."""
        ...

    async def restart(self) -> None:
        """Throw the sandbox away and start a fresh one (empty work dir)."""
        ...

    async def stop(self) -> None:
        """Release the sandbox; the executor may not be used afterwards."""
        ...


def parse_filename(code: str) -> str | None:
    """The ``# filename: x.py`` named on the code's first line (AutoGen's convention), or None."""
    first = code.lstrip("\r\n").split("\n", 1)[0]
    match = _FILENAME.match(first)
    return match.group(1) if match else None


def filename_problem(name: str) -> str | None:
    """Why ``name`` may not be used as a file in the work dir, or None when it may.

    A lexical check done before anything runs; the runner checks again against the real file
    system (symlinks) where the file is written.
    """
    if "\x00" in name or "\\" in name:
        return "it contains a NUL or a backslash"
    path = PurePosixPath(name)
    if path.is_absolute():
        return "it is an absolute path"
    if any(part == ".." for part in path.parts):
        return "it leaves the work dir (..)"
    if not path.parts or path.name in ("", "."):
        return "it names no file"
    return None
