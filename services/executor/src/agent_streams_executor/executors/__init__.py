"""Code executors with AutoGen's shapes: Docker (the default, a sandbox) and local (not one)."""

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
