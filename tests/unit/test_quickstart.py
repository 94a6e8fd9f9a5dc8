"""examples/quickstart.py is AutoGen's code-execution quickstart with its imports changed.

Here, without Docker: its agents (the seed's classes) run on the in-process runtime with a
scripted FAKE model (no LLM here) and the real AutoGen-shaped local executor; and every name
the seed imports is importable from where the README's parity table says. The whole example,
with the Docker sandbox and a model over HTTP, in one process and across processes:
``tests/docker/test_quickstart_seed.py``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from agent_streams import InProcessRuntime, SingleThreadedAgentRuntime
from agent_streams_assistant.fake import ScriptedFakeChatClient
from agent_streams_assistant.models import SystemMessage, UserMessage
from agent_streams_executor.code_executors import LocalCommandLineCodeExecutor

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart.py"

FIRST_REPLY = """I will write the file and print its size.

```python
from pathlib import Path
Path("result.txt").write_text("42\\n")
print("bytes:", Path("result.txt").stat().st_size)
```
"""


@pytest.fixture(scope="module")
def quickstart() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quickstart", QUICKSTART)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["quickstart"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


async def test_the_seed_agents_run_code_and_stop_at_an_answer(
    quickstart: ModuleType, tmp_path: Path
) -> None:
    model = ScriptedFakeChatClient([FIRST_REPLY, "Done: result.txt holds 42."])
    runtime = InProcessRuntime()
    async with LocalCommandLineCodeExecutor(work_dir=tmp_path / "work", timeout=60) as executor:
        Assistant, Executor, Message = quickstart.Assistant, quickstart.Executor, quickstart.Message
        await Assistant.register(runtime, "assistant", lambda: Assistant(model_client=model))
        await Executor.register(runtime, "executor", lambda: Executor(executor))
        runtime.start()
        task = Message("Write 42 to result.txt.")
        await runtime.publish_message(task, quickstart.DefaultTopicId())
        await runtime.stop_when_idle()

    assert (tmp_path / "work" / "result.txt").read_text() == "42\n"
    assert len(model.calls) == 2  # the answer without code ended the conversation
    first, second = model.calls
    assert isinstance(first[0], SystemMessage)
    assert first[0].content.startswith("Write Python script in markdown block")
    assert first[1] == UserMessage(content="Write 42 to result.txt.", source="user")
    executor_output = second[-1]
    assert isinstance(executor_output, UserMessage)
    assert executor_output.content == "bytes: 3\n"


def test_the_seed_extraction_is_the_seeds_regex(quickstart: ModuleType) -> None:
    blocks = quickstart.extract_markdown_code_blocks(FIRST_REPLY + "\n```\nprint(1)\n```\n")
    assert [b.language for b in blocks] == ["python", ""]
    assert blocks[0].code.startswith("from pathlib import Path")


def test_the_seed_runtime_name_is_the_in_process_runtime() -> None:
    assert SingleThreadedAgentRuntime is InProcessRuntime


def _parity_rows() -> list[tuple[str, str, str]]:
    """(name, AutoGen module, module here) of the README's parity table."""
    text = (ROOT / "README.md").read_text()
    table = text.split("<!-- parity -->")[1]
    row = re.compile(r"^\| `(\w+)` \| `([\w.]+)` \| `([\w.]+)` \|", re.MULTILINE)
    return row.findall(table)


def test_every_name_of_the_parity_table_is_where_it_says() -> None:
    rows = _parity_rows()
    assert len(rows) >= 15
    for name, _, module in rows:
        assert hasattr(importlib.import_module(module), name), f"{module}.{name}"


def test_the_seed_imports_only_what_the_parity_table_maps() -> None:
    tree = ast.parse(QUICKSTART.read_text())
    seed_end = next(
        n.lineno for n in tree.body if isinstance(n, ast.AsyncFunctionDef) and n.name == "main"
    )
    imported = {
        (alias.name, node.module)
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.lineno < seed_end
        for alias in node.names
    }
    here = {name: module for name, _, module in _parity_rows()}
    ours = {(name, module) for name, module in imported if module and module.startswith("agent_")}
    assert ours, "the seed's imports were not found"
    for name, module in ours:
        # the model client line's settings aside, each name comes from the table's module
        if name != "ModelSettings":
            assert here.get(name) == module, f"{name} from {module}, table: {here.get(name)}"
