"""The Executor service: runs model-written code in a locked-down sandbox per session.

``code_executors`` holds AutoGen's ``DockerCommandLineCodeExecutor`` and
``LocalCommandLineCodeExecutor`` (its constructors and lifecycle, this project's sandbox);
``executors`` the service's per-session pools and sandboxes behind them; ``agent`` the agents on
the runtime; ``main`` the service's wiring; ``settings`` its ``EXECUTOR_*`` settings.
"""

from agent_streams.code_executor import CodeBlock, CodeResult
from agent_streams_executor.code_executors import (
    DockerCommandLineCodeExecutor,
    LocalCommandLineCodeExecutor,
)
from agent_streams_executor.executors.docker import DockerExecutorPool
from agent_streams_executor.executors.local import LocalExecutorPool
from agent_streams_executor.extraction import extract_code_blocks
from agent_streams_executor.settings import ExecutorSettings

__all__ = [
    "CodeBlock",
    "CodeResult",
    "DockerCommandLineCodeExecutor",
    "DockerExecutorPool",
    "ExecutorSettings",
    "LocalCommandLineCodeExecutor",
    "LocalExecutorPool",
    "extract_code_blocks",
]
