"""The code executors with AutoGen's names and constructors: one module to import them from.

    autogen_ext.code_executors.docker  -> agent_streams_executor.code_executors.docker
    autogen_ext.code_executors.local   -> agent_streams_executor.code_executors.local
    autogen_core.code_executor         -> agent_streams.code_executor (also re-exported here)

:class:`DockerCommandLineCodeExecutor` runs the code in one locked-down sandbox container (the
Executor service's); :class:`LocalCommandLineCodeExecutor` in a local subprocess, which is NOT
a sandbox. Both take AutoGen's arguments (``work_dir``, ``timeout``, ...), work as ``async
with`` context managers and with ``start()`` / ``stop()`` / ``restart()``, and put the code's
files in ``work_dir``. What differs from AutoGen, and the options refused, is in each module's
docstring. The Executor service itself uses the per-session pools in
``agent_streams_executor.executors``, not these.
"""

from agent_streams.code_executor import CodeBlock, CodeExecutor, CodeResult
from agent_streams_executor.code_executors.docker import DockerCommandLineCodeExecutor
from agent_streams_executor.code_executors.local import LocalCommandLineCodeExecutor

CommandLineCodeResult = CodeResult
"""autogen-ext's result type (``exit_code``, ``output``, ``code_file``): here the same class."""

__all__ = [
    "CodeBlock",
    "CodeExecutor",
    "CodeResult",
    "CommandLineCodeResult",
    "DockerCommandLineCodeExecutor",
    "LocalCommandLineCodeExecutor",
]
