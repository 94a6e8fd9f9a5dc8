"""Code blocks out of a model's markdown reply, as the executor's :class:`CodeBlock`\\ s.

The rules live in one place for every service, :mod:`agent_streams.codeblocks` (the Assistant
uses them to fill ``ExecutionRequest.code_blocks``): fenced blocks with or without a tag,
``\\r\\n`` line endings, several per reply; text without a fence runs nothing; python, bash and
sh tags run; untagged or oddly tagged blocks (```` ```markdown ````, an "expected output" block)
run as Python only if they parse and do something, so prose and echoed output never run. This
module only adapts them to the AutoGen-shaped executor API.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent_streams.codeblocks import extract_code_blocks as _extract_specs
from agent_streams.messages import CodeBlockSpec
from agent_streams_executor.executors.base import CodeBlock

__all__ = ["extract_code_blocks", "from_specs"]


def extract_code_blocks(markdown: str) -> list[CodeBlock]:
    """Every block of ``markdown`` that should run, in order."""
    return from_specs(_extract_specs(markdown))


def from_specs(specs: Iterable[CodeBlockSpec]) -> list[CodeBlock]:
    """Contract messages' code blocks as executor blocks."""
    return [CodeBlock(code=spec.code, language=spec.language) for spec in specs]
