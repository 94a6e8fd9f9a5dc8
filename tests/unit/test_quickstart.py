"""examples/quickstart.py (the AutoGen quickstart's agents, ported) runs in one process on the
in-process runtime: a scripted fake model (no LLM here) and the real local executor."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from agent_streams import InProcessRuntime
from agent_streams_assistant.fake import ScriptedFakeChatClient
from agent_streams_assistant.models import SystemMessage, UserMessage
from agent_streams_executor.executors.local import LocalCommandLineCodeExecutor

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"

# The model labels its script ```markdown and adds an untagged "output" block, as a small
# local model does: the script runs, the output block does not.
FIRST_REPLY = """I will write the file and print its size.

```markdown
from pathlib import Path
Path("result.txt").write_text("42\\n")
print("bytes:", Path("result.txt").stat().st_size)
```

Expected output:

```
bytes: 3
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


async def test_quickstart_loop_runs_code_and_stops_at_an_answer(
    quickstart: ModuleType, tmp_path: Path
) -> None:
    model = ScriptedFakeChatClient([FIRST_REPLY, "Done: result.txt holds 42."])
    executor = LocalCommandLineCodeExecutor(work_dir=tmp_path / "work", timeout_s=60)
    try:
        await quickstart.run_quickstart(
            InProcessRuntime(),
            "Write 42 to result.txt.",
            model_client=model,
            code_executor=executor,
        )
    finally:
        await executor.stop()

    assert (tmp_path / "work" / "result.txt").read_text() == "42\n"
    assert len(model.calls) == 2  # the answer without code ended the conversation
    first, second = model.calls
    assert isinstance(first[0], SystemMessage)
    assert first[0].content.startswith("Write Python script in markdown block")
    assert first[1] == UserMessage(content="Write 42 to result.txt.", source="user")
    executor_output = second[-1]
    assert isinstance(executor_output, UserMessage)
    assert "bytes: 3" in executor_output.content


def test_the_seed_extraction_name_keeps_its_shape(quickstart: ModuleType) -> None:
    blocks = quickstart.extract_markdown_code_blocks(FIRST_REPLY)
    assert [b.language for b in blocks] == ["python"]
    assert blocks[0].code.startswith("from pathlib import Path")
