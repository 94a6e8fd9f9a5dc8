"""The code-executor seam: AutoGen-compatible shapes shared by the Docker and local executors.

``CodeBlock``, ``CodeResult``, ``CodeExecutor`` and ``OutputFile`` are defined in
``agent_streams.code_executor`` (where autogen-core keeps them: ``autogen_core.code_executor``)
and re-exported here, so the older import paths keep working. What a run does is data in the
result, never an exception: a failing block, a timeout (exit 124), a cancellation (exit 125),
an unknown language or a ``# filename:`` outside the work dir (exit 1). Exceptions are for the
executor itself failing::

    ExecutorError                  the executor could not do its job (not the code's fault)
    ├── SandboxStartError          a sandbox (container / runner process) did not come up
    └── SandboxLostError           a sandbox died or stopped answering mid-session

Foreign errors (docker SDK, OS) are translated into these at the edge with ``raise ... from``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from agent_streams.code_executor import (
    CancellationTokenLike,
    CodeBlock,
    CodeExecutor,
    CodeResult,
    OutputFile,
)
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
