"""Which fenced blocks of a model's reply run: agent_streams.codeblocks (LOCAL-LLM.md's rules)."""

from __future__ import annotations

import pytest

from agent_streams.codeblocks import extract_code_blocks, has_unterminated_fence
from agent_streams.messages import CodeBlockSpec


def test_python_block() -> None:
    reply = "Sure:\n```python\nprint('hi')\n```\nThis prints hi."
    assert extract_code_blocks(reply) == [CodeBlockSpec(code="print('hi')", language="python")]


@pytest.mark.parametrize(
    ("tag", "language"),
    [("py", "python"), ("Python3", "python"), ("bash", "bash"), ("shell", "bash"), ("sh", "sh")],
)
def test_tags_that_run(tag: str, language: str) -> None:
    [block] = extract_code_blocks(f"```{tag}\necho hi\n```")
    assert block.language == language
    assert block.code == "echo hi"


def test_prose_never_runs() -> None:
    assert extract_code_blocks("print('hi') is how you print. No fences here.") == []


def test_mislabelled_script_runs_as_python() -> None:
    reply = "```markdown\nimport pandas as pd\ndf = pd.read_csv('x.csv')\nprint(df.mean())\n```"
    [block] = extract_code_blocks(reply)
    assert block.language == "python"
    assert block.code.startswith("import pandas as pd")


def test_untagged_script_runs_untagged_output_does_not() -> None:
    reply = (
        "```python\nprint(sum(range(5)))\n```\n"
        "Expected output:\n```\n10\n```\n"
        "```text\nMean: 3.5\n```\n"
        "```\nThe plot was saved to plot.png\n```\n"
        "```\nx = 2\nprint(x)\n```"
    )
    blocks = extract_code_blocks(reply)
    assert [b.code for b in blocks] == ["print(sum(range(5)))", "x = 2\nprint(x)"]
    assert {b.language for b in blocks} == {"python"}


def test_crlf_and_several_blocks_in_order() -> None:
    reply = "One:\r\n```python\r\na = 1\r\n```\r\nTwo:\r\n```bash\r\nls -l\r\n```\r\n"
    assert extract_code_blocks(reply) == [
        CodeBlockSpec(code="a = 1", language="python"),
        CodeBlockSpec(code="ls -l", language="bash"),
    ]


def test_unterminated_block_is_not_run_half() -> None:
    reply = "```python\nprint(1)\n```\nand then\n```python\nimport numpy as np\nx = np.arange("
    assert [b.code for b in extract_code_blocks(reply)] == ["print(1)"]
    assert has_unterminated_fence(reply)
    assert not has_unterminated_fence("```python\nprint(1)\n```")


def test_foreign_language_is_kept_so_the_executor_can_say_no() -> None:
    [block] = extract_code_blocks("```javascript\nconsole.log(1);\n```")
    assert block.language == "javascript"


def test_tilde_fence_indent_and_longer_fence() -> None:
    reply = "  ~~~python\n  print(1)\n    print(2)\n  ~~~\n````python\nx = '```'\nprint(x)\n````"
    assert [b.code for b in extract_code_blocks(reply)] == [
        "print(1)\n  print(2)",
        "x = '```'\nprint(x)",
    ]


def test_empty_block_is_skipped() -> None:
    assert extract_code_blocks("```python\n\n```") == []
