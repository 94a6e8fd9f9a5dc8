"""The Executor service: runs model-written code in a locked-down sandbox per session.

``executors`` holds the code executors (AutoGen's shapes: ``CodeBlock``, ``CodeResult``,
``execute_code_blocks``): Docker (the default) and local (not a sandbox); ``agent`` the agents
on the runtime; ``main`` the service's wiring; ``settings`` its ``EXECUTOR_*`` settings.
"""

from agent_streams_executor.executors.base import CodeBlock, CodeResult
from agent_streams_executor.executors.docker import (
    DockerCommandLineCodeExecutor,
    DockerExecutorPool,
)
from agent_streams_executor.executors.local import (
    LocalCommandLineCodeExecutor,
    LocalExecutorPool,
)
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
