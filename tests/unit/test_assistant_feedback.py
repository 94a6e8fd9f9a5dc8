"""How an execution result is fed back to the model (agent_streams_assistant.feedback)."""

from __future__ import annotations

from agent_streams.messages import ArtifactRef, ExecutionResult
from agent_streams_assistant.feedback import (
    ERROR_TAIL_LINES,
    OUTPUT_CHARS,
    TaskAsks,
    execution_feedback,
    fit_history,
    repeated_script_feedback,
    task_prompt,
)
from agent_streams_assistant.models import AssistantMessage, LLMMessage, SystemMessage, UserMessage

LONG_TRACEBACK = "\n".join(
    ["Traceback (most recent call last):"]
    + [f'  File "lib.py", line {i}, in f{i}\n    g{i}()' for i in range(30)]
    + ["KeyError: 'Close'"]
)


def result(**fields: object) -> ExecutionResult:
    base: dict[str, object] = {"turn": 1, "request_id": "r", "exit_code": 0, "output": ""}
    return ExecutionResult.model_validate(base | fields)


def test_failure_leads_with_exit_code_and_the_traceback_tail() -> None:
    not_python = "\n".join(f"line {i}" for i in range(40)) + "\nbash: foo: command not found"
    fb = execution_feedback(
        result(exit_code=1, stderr=not_python, output="some stdout\n" + not_python),
        timeout_s=60,
        previous_error=None,
    )
    assert fb.text.startswith("exit code 1, the error was:\n")
    assert "line 39\nbash: foo: command not found" in fb.text
    assert "line 19\n" not in fb.text  # only the tail
    assert "some stdout" not in fb.text  # stderr is preferred when there is one
    assert len(fb.text.splitlines()) <= ERROR_TAIL_LINES + 3
    assert fb.text.endswith(
        "Fix the script and reply with the whole corrected script in one ```python block."
    )
    assert fb.error == "bash: foo: command not found"


PANDAS_TRACEBACK = """/workspace/tmp_code_1.py:3: UserWarning: something
Traceback (most recent call last):
  File "/opt/venv/lib/python3.11/site-packages/pandas/core/indexes/base.py", line 3812, in get_loc
    return self._engine.get_loc(casted_key)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "pandas/_libs/index.pyx", line 167, in pandas._libs.index.IndexEngine.get_loc
KeyError: -1

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/workspace/tmp_code_1.py", line 27, in <module>
    print("AAPL", returns[-1])
                  ~~~~~~~^^^^
  File "/opt/venv/lib/python3.11/site-packages/pandas/core/series.py", line 1133, in __getitem__
    return self._get_value(key)
           ^^^^^^^^^^^^^^^^^^^^
  File "/opt/venv/lib/python3.11/site-packages/pandas/core/indexes/base.py", line 3819, in get_loc
    raise KeyError(key) from err
KeyError: -1"""


def test_a_python_traceback_is_cut_to_the_scripts_own_frames_and_the_error() -> None:
    fb = execution_feedback(
        result(exit_code=1, stderr=PANDAS_TRACEBACK), timeout_s=60, previous_error=None
    )
    assert fb.error == "KeyError: -1"
    assert fb.line == 'print("AAPL", returns[-1])'
    assert fb.text.startswith(
        "exit code 1, the error was:\n"
        "/workspace/tmp_code_1.py:3: UserWarning: something\n"
        "Traceback (most recent call last):\n"
        '  File "/workspace/tmp_code_1.py", line 27, in <module>\n'
        '    print("AAPL", returns[-1])\n'
        "  ... (2 frames inside libraries left out)\n"
        "KeyError: -1\n"
        "What it means: KeyError -1: a Series or DataFrame was indexed by a position"
    )


def test_an_error_message_over_several_lines_is_named_by_its_first() -> None:
    stderr = (
        "Traceback (most recent call last):\n"
        '  File "/workspace/t.py", line 2, in <module>\n'
        "    pd.to_datetime(d, format='%m/%d/%Y')\n"
        'ValueError: time data "27/08/2019" doesn\'t match format "%m/%d/%Y". You might:\n'
        "    - passing `format` if your strings have a consistent format;\n"
    )
    fb = execution_feedback(result(exit_code=1, stderr=stderr), timeout_s=60, previous_error=None)
    assert (
        fb.error
        == 'ValueError: time data "27/08/2019" doesn\'t match format "%m/%d/%Y". You might:'
    )
    assert "    - passing `format` if your strings have a consistent format;" in fb.text


def test_same_error_again_asks_for_another_approach() -> None:
    fb = execution_feedback(
        result(exit_code=1, stderr=LONG_TRACEBACK), timeout_s=60, previous_error="KeyError: 'Close'"
    )
    assert "same error as last time" in fb.text
    other = execution_feedback(
        result(exit_code=1, stderr=LONG_TRACEBACK), timeout_s=60, previous_error="NameError: x"
    )
    assert "same error" not in other.text


def test_timeout_asks_for_a_faster_script() -> None:
    fb = execution_feedback(
        result(exit_code=124, timed_out=True, output="step 1\nstep 2"),
        timeout_s=30,
        previous_error=None,
    )
    assert fb.text.startswith("The script was stopped after 30 s")
    assert "step 2" in fb.text
    assert "faster" in fb.text


def test_success_shows_output_files_and_asks_to_stop_when_done() -> None:
    big = "x" * (OUTPUT_CHARS * 3)
    fb = execution_feedback(
        result(
            output="HEAD" + big + "TAIL",
            artifacts=[ArtifactRef(name="plot.png", size=10, digest="a" * 64)],
        ),
        timeout_s=60,
        previous_error="KeyError: 'Close'",
    )
    assert fb.error is None
    assert fb.text.startswith("exit code 0, the script ran. Output:\nHEAD")
    assert "TAIL" in fb.text
    assert "characters cut" in fb.text
    assert len(fb.text) < OUTPUT_CHARS + 400
    assert "Files created: plot.png" in fb.text
    assert "reply with the final answer and no code: the results in a sentence" in fb.text


def test_success_without_output() -> None:
    fb = execution_feedback(result(), timeout_s=60, previous_error=None)
    assert "Output:\n(no output)\n" in fb.text
    assert "Files created" not in fb.text


def test_task_prompt_names_the_input_files() -> None:
    assert task_prompt("Plot it.", []) == "Plot it."
    assert task_prompt("Plot it.", ["prices.csv", "b.txt"]) == (
        "Plot it.\n\nThese files are in the current directory: prices.csv, b.txt"
    )


def test_task_prompt_puts_the_files_description_under_the_task() -> None:
    described = task_prompt("Plot it.", ["p.csv"], "p.csv (1 KB, comma-separated)\n- a: int64\n")
    assert described == (
        "Plot it.\n\nThese files are in the current directory:\n"
        "p.csv (1 KB, comma-separated)\n- a: int64"
    )


def test_success_restates_the_tasks_own_requirements() -> None:
    asks = TaskAsks(
        requirements="Round to two decimals.\nFormat: @mean_fare[value]",
        missing_files=("fares.png",),
    )
    fb = execution_feedback(
        result(output="@mean_fare[34.65]\n"), timeout_s=60, previous_error=None, asks=asks
    )
    restated = "Round to two decimals.\nFormat: @mean_fare[value]"
    assert f"The task said:\n{restated}\nSo the task is not done yet" in fb.text
    assert "The task asks for fares.png, which no run has created yet." in fb.text
    assert "reply with the final answer" not in fb.text  # a file is missing: not done
    made = execution_feedback(
        result(output="@mean_fare[34.65]\n"),
        timeout_s=60,
        previous_error=None,
        asks=TaskAsks(requirements=asks.requirements),
    )
    assert f"The task said:\n{restated}\nIf the output above completes the task" in made.text
    assert "name the files" not in made.text


def test_success_without_the_tasks_answers_asks_for_the_script_not_the_answer() -> None:
    asks = TaskAsks(
        requirements="Answer with @title[title] and @doctors[count].",
        forms=True,
        missing_forms=("@title[title]", "@doctors[count]"),
    )
    fb = execution_feedback(result(output=""), timeout_s=60, previous_error=None, asks=asks)
    assert fb.text.endswith(
        "The output does not show @title[title], @doctors[count] with a computed value, so "
        "the task is not answered yet. Reply with the whole corrected script in one ```python "
        "block that computes and prints each of them."
    )
    assert "reply with the final answer" not in fb.text


def test_failure_explains_the_error_and_passes_the_runs_notes_on() -> None:
    fb = execution_feedback(
        result(
            exit_code=1,
            stderr="Traceback...\nModuleNotFoundError: No module named 'xgboost'",
            output="Traceback...\nModuleNotFoundError: No module named 'xgboost'\n"
            "Note: module 'xgboost' is not installed in this sandbox ... numpy, pandas",
        ),
        timeout_s=60,
        previous_error=None,
    )
    assert "Note: module 'xgboost' is not installed in this sandbox ... numpy, pandas\n" in fb.text
    assert "What it means: the module 'xgboost' is not installed" in fb.text


def test_repeated_script_feedback_says_what_that_script_did() -> None:
    failed = repeated_script_feedback(2, "KeyError: 'AAPL'")
    assert "same script as turn 2, which failed with:\nKeyError: 'AAPL'" in failed
    assert "no column or key of that name" in failed
    assert "not run again" in failed
    ran = repeated_script_feedback(3, None)
    assert "already ran successfully" in ran
    assert "final answer" in ran


def test_fit_history_keeps_prompt_task_and_latest_whole_turns() -> None:
    system = SystemMessage(content="S" * 100)
    task = UserMessage(content="T" * 100, source="user")
    turns: list[LLMMessage] = []
    for i in range(5):
        turns += [
            AssistantMessage(content=f"{i}" * 300, source="assistant"),
            UserMessage(content=f"{i}" * 200, source="executor"),
        ]
    history = [system, task, *turns]

    assert fit_history(history, 100_000) == history
    fitted = fit_history(history, 200 + 2 * 500 + 499)  # room for two turns, not three
    assert fitted == [system, task, *turns[-4:]]
    # the latest turn is kept even when it alone is over the budget
    assert fit_history(history, 10) == [system, task, *turns[-2:]]
    assert fit_history([system, task], 10) == [system, task]


def test_success_with_nan_in_the_output_asks_for_a_check() -> None:
    nan = result(output="symbol\nAAPL    759.8\nMSFT      NaN\n")
    fb = execution_feedback(nan, timeout_s=60, previous_error=None)
    assert fb.error is None
    assert "The output contains NaN (missing values)" in fb.text
    clean = execution_feedback(
        result(output="symbol\nAAPL    64.8\nMSFT    -7.5\nNancy's file\n"),
        timeout_s=60,
        previous_error=None,
    )
    assert "NaN" not in clean.text


def test_success_with_an_empty_figure_asks_for_a_fix() -> None:
    output = "Note: plot.png was saved with no data in it: every plotted series is empty\n"
    fb = execution_feedback(result(output=output), timeout_s=60, previous_error=None)
    assert "A figure with no data in it is not the plot the task asks for" in fb.text
    assert fb.text.endswith(
        "So the task is not done yet: reply with the whole corrected script in one ```python block."
    )
    plain = execution_feedback(result(output="done\n"), timeout_s=60, previous_error=None)
    assert "no data in it" not in plain.text
