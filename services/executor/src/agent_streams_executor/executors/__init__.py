"""The Executor service's sandboxes: per-session executors and their pools, Docker (the default,
a sandbox) and local (not one). AutoGen's executor classes, over these, are in
``agent_streams_executor.code_executors``; ``CodeBlock`` and ``CodeResult`` in
``agent_streams.code_executor`` (re-exported here for the older import path)."""

from agent_streams_executor.executors.base import (
    EXIT_CANCELLED,
    EXIT_TIMEOUT,
    CancellationTokenLike,
    CodeBlock,
    CodeExecutor,
    CodeResult,
    ExecutorError,
    OutputFile,
    SandboxLostError,
    SandboxStartError,
)

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
]
