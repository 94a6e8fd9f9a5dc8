"""AutoGen's documented code-executor behaviours, on both executors (local and Docker).

Blocks run in order and stop at the first failure; a timeout is exit 124 and says so;
cancellation kills the code (a file it would write later never appears); ``# filename:`` names
the file and must stay inside the work dir; python, bash and sh run; an unknown language is
exit 1 with a message, not an exception. Plus what the session model adds: files persist between
runs, changed files come back, output is capped.
"""

from __future__ import annotations

import asyncio

import pytest

from agent_streams import CancellationToken
from agent_streams_executor.executors.base import (
    EXIT_CANCELLED,
    EXIT_TIMEOUT,
    CodeBlock,
    CodeResult,
)
from agent_streams_executor.executors.session import SandboxExecutor
from agent_streams_executor.extraction import extract_code_blocks

py = CodeBlock


def sh(code: str, language: str = "bash") -> CodeBlock:
    return CodeBlock(code, language)


async def run(
    executor: SandboxExecutor, *blocks: CodeBlock, timeout_s: float | None = None
) -> CodeResult:
    return await executor.execute_code_blocks(
        list(blocks), CancellationToken(), timeout_s=timeout_s
    )


async def test_blocks_run_in_order_and_stop_at_the_first_failure(executor: SandboxExecutor) -> None:
    result = await run(
        executor,
        py("print('first')"),
        sh("echo second; exit 3"),
        py("print('third: must not run')"),
    )
    assert result.exit_code == 3
    assert result.output.index("first") < result.output.index("second")
    assert "third" not in result.output


async def test_python_errors_are_exit_1_with_the_traceback(executor: SandboxExecutor) -> None:
    result = await run(executor, py("x = 1\nraise ValueError('boom')"))
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "ValueError: boom" in result.output
    assert "runner" not in result.stderr  # the traceback shows the user's code only


async def test_exit_codes_and_streams(executor: SandboxExecutor) -> None:
    result = await run(
        executor, py("import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(4)")
    )
    assert (result.exit_code, result.stdout, result.stderr) == (4, "out\n", "err\n")
    assert result.output == "out\nerr\n"


async def test_python_bash_and_sh_are_supported(executor: SandboxExecutor) -> None:
    result = await run(
        executor,
        py("print(__name__, __file__.endswith('.py'))"),
        sh("arr=(a b c); echo bash ${#arr[@]}"),
        sh("echo sh $((1 + 1))", "sh"),
        sh("echo shell tag", "shell"),
    )
    assert result.exit_code == 0, result.output
    assert result.output.split("\n")[:4] == ["__main__ True", "bash 3", "sh 2", "shell tag"]


async def test_unknown_language_is_exit_1_with_a_message(executor: SandboxExecutor) -> None:
    result = await run(executor, py("print('before')"), CodeBlock("console.log(1)", "javascript"))
    assert result.exit_code == 1
    assert "before" in result.output
    assert "unsupported language 'javascript'" in result.output


async def test_timeout_is_exit_124_and_says_so(executor: SandboxExecutor) -> None:
    result = await run(
        executor, py("import time\nprint('started', flush=True)\ntime.sleep(30)"), timeout_s=1
    )
    assert result.exit_code == EXIT_TIMEOUT
    assert result.timed_out
    assert "started" in result.output
    assert "Timeout" in result.output
    assert 1 <= result.duration_s < 5
    assert (await run(executor, py("print('next')"))).output == "next\n"


async def test_the_timeout_is_one_budget_for_all_blocks(executor: SandboxExecutor) -> None:
    blocks = [py("import time; time.sleep(0.6)")] * 3
    result = await run(executor, *blocks, timeout_s=1.2)
    assert result.exit_code == EXIT_TIMEOUT


async def test_cancellation_kills_the_code(executor: SandboxExecutor) -> None:
    token = CancellationToken()
    code = "import time\nopen('started', 'w').close()\ntime.sleep(1.5)\nopen('late', 'w').close()"
    asyncio.get_running_loop().call_later(0.5, token.cancel)
    result = await executor.execute_code_blocks([py(code)], token)
    assert (result.exit_code, result.cancelled) == (EXIT_CANCELLED, True)
    assert "Cancelled" in result.output
    assert [f.name for f in result.files] == ["started"]
    # Past the time the code would have written it, the file is still not there.
    after = await run(
        executor, py("import os, time\ntime.sleep(1.5)\nprint(os.path.exists('late'))")
    )
    assert after.output == "False\n"


async def test_cancelling_the_awaiting_task_kills_the_code_too(executor: SandboxExecutor) -> None:
    code = "import time\ntime.sleep(1.5)\nopen('late', 'w').close()"
    task = asyncio.ensure_future(run(executor, py(code)))
    asyncio.get_running_loop().call_later(0.5, task.cancel)
    with pytest.raises(asyncio.CancelledError):
        await task
    after = await run(
        executor, py("import os, time\ntime.sleep(1.5)\nprint(os.path.exists('late'))")
    )
    assert after.output == "False\n"


async def test_a_cancelled_token_runs_nothing(executor: SandboxExecutor) -> None:
    token = CancellationToken()
    token.cancel()
    result = await executor.execute_code_blocks([py("open('ran', 'w')")], token)
    assert result.cancelled
    check = await run(executor, py("import os; print(os.path.exists('ran'))"))
    assert check.output == "False\n"


async def test_filename_comment_names_the_file(executor: SandboxExecutor) -> None:
    result = await run(
        executor, py("# filename: tools/hello.py\nprint('hi')"), sh("cat tools/hello.py | head -1")
    )
    assert result.exit_code == 0, result.output
    assert result.output == "hi\n# filename: tools/hello.py\n"
    assert result.files == ()  # the code files are the executor's, not artifacts


@pytest.mark.parametrize("name", ["../escape.py", "/etc/escape.py", "a/../../escape.py"])
async def test_filename_outside_the_work_dir_is_exit_1(
    executor: SandboxExecutor, name: str
) -> None:
    result = await run(executor, py(f"# filename: {name}\nprint('ran')"))
    assert result.exit_code == 1
    assert "not inside the work dir" in result.output
    assert "ran" not in result.output


async def test_filename_through_a_symlink_out_of_the_work_dir_is_refused(
    executor: SandboxExecutor,
) -> None:
    await run(executor, sh("ln -s /tmp outside"))
    result = await run(executor, py("# filename: outside/escape.py\nprint('ran')"))
    assert result.exit_code == 1
    assert "not inside the work dir" in result.output


async def test_files_persist_between_runs_but_variables_do_not(executor: SandboxExecutor) -> None:
    await run(executor, py("open('state.txt', 'w').write('kept')\nx = 42"))
    result = await run(executor, py("print(open('state.txt').read())\nprint('x' in globals())"))
    assert result.output == "kept\nFalse\n"


async def test_changed_files_come_back_and_unchanged_ones_do_not(executor: SandboxExecutor) -> None:
    first = await run(
        executor,
        py(
            "open('a.txt', 'w').write('one')\nimport os\n"
            "os.makedirs('sub', exist_ok=True)\nopen('sub/b.csv', 'w').write('x,y')"
        ),
    )
    assert {(f.name, f.content) for f in first.files} == {("a.txt", b"one"), ("sub/b.csv", b"x,y")}
    second = await run(executor, py("open('a.txt', 'a').write('two')"))
    assert [(f.name, f.content) for f in second.files] == [("a.txt", b"onetwo")]
    third = await run(executor, py("print('nothing written')"))
    assert third.files == ()


async def test_stdin_is_empty(executor: SandboxExecutor) -> None:
    result = await run(executor, py("try:\n    input()\nexcept EOFError:\n    print('eof')"))
    assert result.output == "eof\n"


async def test_output_is_capped_with_a_marker(executor: SandboxExecutor) -> None:
    result = await run(executor, py("print('HEAD')\nprint('x' * 500_000)\nprint('TAIL')"))
    assert result.exit_code == 0
    assert len(result.stdout.encode()) < 70_000
    assert result.stdout.startswith("HEAD")
    assert result.stdout.rstrip().endswith("TAIL")
    assert "bytes cut: output is capped at 65536 bytes" in result.stdout


async def test_markdown_from_a_small_model_runs_only_the_code(executor: SandboxExecutor) -> None:
    reply = (
        "Here is the script:\r\n```markdown\r\nwith open('made.txt', 'w') as f:\r\n"
        "    f.write('ok')\r\nprint('wrote it')\r\n```\r\nExpected output:\r\n```\r\n"
        "wrote it\r\n```\r\n```\r\n42\r\n```\r\nand some prose, not code.\r\n"
    )
    blocks = extract_code_blocks(reply)
    assert [b.language for b in blocks] == ["python"]
    result = await run(executor, *blocks)
    assert (result.exit_code, result.output) == (0, "wrote it\n")
    assert [f.name for f in result.files] == ["made.txt"]


async def test_text_without_fences_runs_nothing() -> None:
    assert extract_code_blocks("print('hello')\nJust prose, no fence.") == []


async def test_a_lost_runner_is_a_result_and_the_next_run_gets_a_new_sandbox(
    executor: SandboxExecutor, kind: str
) -> None:
    await run(executor, py("open('file', 'w')"))
    # Kill the runner itself (locally its parent; in Docker PID 1 ignores it, so nothing happens).
    killer = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"
    result = await run(executor, py(killer))
    if kind == "docker":
        assert result.exit_code == 0  # PID 1 of the sandbox cannot be killed from inside
        return
    assert result.exit_code == 1
    assert "sandbox was lost" in result.output
    again = await run(executor, py("import os; print(os.path.exists('file'))"))
    assert again.exit_code == 0


async def test_a_figure_saved_with_nothing_plotted_is_said(executor: SandboxExecutor) -> None:
    plot = (
        "import matplotlib.pyplot as plt, pandas as pd\n"
        "df = pd.DataFrame({'date': ['Jan 1 2000'], 'price': [1.0]})\n"
        "ROWS\n"
        "plt.plot(rows['date'], rows['price'])\n"
        "plt.savefig('plot.png')\n"
    )
    empty = await run(executor, py(plot.replace("ROWS", "rows = df[df['date'] <= '2010-03-01']")))
    assert empty.exit_code == 0, empty.output
    assert "Note: plot.png was saved with no data in it" in empty.stderr
    drawn = await run(executor, py(plot.replace("ROWS", "rows = df")))
    assert drawn.exit_code == 0, drawn.output
    assert "no data" not in drawn.output
