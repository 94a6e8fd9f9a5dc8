"""The Assistant's loop on the in-process runtime, with a scripted fake model and a fake executor:
code -> error -> fix -> answer, max turns, the model down, prompts and input files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assistant_fakes import FAKE_DESCRIPTION, code_reply, harness, ran

from agent_streams.messages import ExecutionOptions, InputFile, TaskRequest
from agent_streams_assistant.agent import AssistantConfig
from agent_streams_assistant.feedback import DEFAULT_SYSTEM_PROMPT, truncated_reply_feedback
from agent_streams_assistant.models import (
    CancellationTokenLike,
    CreateResult,
    LLMMessage,
    ModelRequestRejected,
    ModelUnavailable,
    SystemMessage,
    UserMessage,
)

TRACEBACK = """Traceback (most recent call last):
  File "/work/tmp_code_1.py", line 3, in <module>
    df = pd.read_csv("prices.csv")
NameError: name 'pd' is not defined"""


def fixed_script(conversation: Sequence[LLMMessage]) -> str:
    """The fake model's second reply: only right if the error came back in the history."""
    last = conversation[-1]
    assert isinstance(last, UserMessage)
    assert last.content.startswith("exit code 1, the error was:")
    assert "NameError: name 'pd' is not defined" in last.content
    assert "whole corrected script" in last.content
    return code_reply("import pandas as pd\nprint(pd.read_csv('prices.csv').mean())")


async def test_code_error_fix_answer() -> None:
    replies = [
        code_reply("df = pd.read_csv('prices.csv')"),
        fixed_script,
        "The mean price is 3.5; the plot is in plot.png.",
    ]
    runs = [ran(1, stderr=TRACEBACK), ran(0, "price    3.5", artifacts=["plot.png"])]
    task = TaskRequest(
        prompt="Plot the prices and give the mean.",
        files=[InputFile(name="prices.csv", content_b64="MSwy")],
        execution=ExecutionOptions(timeout_s=30),
    )
    async with harness(replies, runs) as h:
        await h.submit(task)
        result = await h.record.result()
        await h.runtime.stop_when_idle()

    assert result.status == "completed"
    assert result.answer == "The mean price is 3.5; the plot is in plot.png."
    assert result.turns == 3
    assert [a.name for a in result.artifacts] == ["plot.png"]
    assert result.usage.prompt_tokens > 0
    assert result.usage.completion_tokens > 0
    assert result.error is None
    assert len(h.record.results) == 1

    # every model reply was published as it happened, with the code it carried
    assert [t.turn for t in h.record.turns] == [1, 2, 3]
    assert [len(t.code_blocks) for t in h.record.turns] == [1, 1, 0]
    # input files go with the turn-0 request that describes them, before the model's first
    # turn; options travel with each request
    (described,) = h.record.described
    first, second = h.record.requests
    assert [f.name for f in described.files] == ["prices.csv"]
    assert 'main(["prices.csv"]' in described.code_blocks[0].code
    assert first.files == second.files == []
    assert described.options.timeout_s == first.options.timeout_s == 30
    assert first.options.timeout_s == second.options.timeout_s == 30
    assert first.code_blocks[0].code == "df = pd.read_csv('prices.csv')"

    # the conversation the model saw: the system prompt, the task with its files described
    system, user = h.model.calls[0]
    assert system == SystemMessage(content=DEFAULT_SYSTEM_PROMPT)
    assert isinstance(user, UserMessage)
    assert user.content == (
        f"Plot the prices and give the mean.\n\nThese files are in the current directory:\n"
        f"{FAKE_DESCRIPTION}"
    )
    success = h.model.calls[2][-1]
    assert success.content.startswith("exit code 0, the script ran. Output:\nprice    3.5")
    assert "Files created: plot.png" in success.content
    assert "final answer" in success.content


async def test_max_turns_ends_with_the_last_reply() -> None:
    replies = [code_reply("print(1/0)"), code_reply("print(1/0)  # again")]
    runs = [ran(1, stderr="ZeroDivisionError: division by zero")]
    async with harness(replies, runs) as h:
        await h.submit(TaskRequest(prompt="divide", max_turns=2))
        result = await h.record.result()
        await h.runtime.stop_when_idle()

    assert result.status == "max_turns"
    assert result.turns == 2
    assert len(h.model.calls) == 2
    assert len(h.record.requests) == 2
    assert result.answer.endswith("```python\nprint(1/0)  # again\n```\n")
    assert result.error is not None
    assert "no final answer after 2 turns" in result.error
    assert "exited with code 1" in result.error


async def test_repeated_error_is_called_out() -> None:
    replies = [code_reply("print(1/0)"), code_reply("print(2/0)"), "I cannot do it."]
    runs = [ran(1, stderr="ZeroDivisionError: division by zero")]
    async with harness(replies, runs) as h:
        await h.submit(TaskRequest(prompt="divide"))
        result = await h.record.result()

    assert result.status == "completed"
    assert "same error as last time" not in h.model.calls[1][-1].content
    # stuck on one error: the model reads the task and what failed, not its attempts
    system, task, note = h.model.calls[2]
    assert (system, task) == tuple(h.model.calls[0])
    assert note.content.splitlines() == [
        "Your earlier scripts for this task did not work:",
        "- turn 1 failed with ZeroDivisionError: division by zero",
        "- turn 2 failed with ZeroDivisionError: division by zero",
        "Write a new script from scratch, with a different approach, and reply with the whole "
        "script in one ```python block.",
    ]


async def test_a_repeated_script_is_answered_without_running_it() -> None:
    replies = [
        code_reply("print(1/0)"),
        code_reply("print(1/0)\n"),  # the same script again (a trailing newline aside)
        code_reply("print(1/1)"),
        code_reply("print(1/1)"),  # a successful script again, instead of answering
        "It is 1.",
    ]
    runs = [ran(1, stderr="ZeroDivisionError: division by zero"), ran(0, "1.0")]
    async with harness(replies, runs) as h:
        await h.submit(TaskRequest(prompt="divide"))
        result = await h.record.result()

    assert result.status == "completed"
    assert result.turns == 5
    # only the two different scripts ran
    assert [r.code_blocks[0].code for r in h.record.requests] == ["print(1/0)", "print(1/1)"]
    # the reply after a repeated failing script is sampled hotter and starts afresh; after a
    # repeated successful one the model is told to answer
    assert h.model.extra_args == [{}, {}, {"temperature": 0.8}, {}, {}]
    fresh, repeat_ran = h.model.calls[2][-1].content, h.model.calls[4][-1].content
    assert fresh.startswith("Your earlier scripts for this task did not work:\n- turn 1 failed")
    assert len(h.model.calls[2]) == 3
    assert repeat_ran.startswith("This is the same script as turn 3, which already ran")
    # every reply was still published as it happened
    assert [t.turn for t in h.record.turns] == [1, 2, 3, 4, 5]


async def test_a_repeat_on_the_last_turn_ends_as_max_turns() -> None:
    replies = [code_reply("print(1/0)"), code_reply("print(1/0)")]
    runs = [ran(1, stderr="ZeroDivisionError: division by zero")]
    async with harness(replies, runs, config=AssistantConfig(max_turns=2)) as h:
        await h.submit(TaskRequest(prompt="divide"))
        result = await h.record.result()

    assert result.status == "max_turns"
    assert result.turns == 2
    assert len(h.record.requests) == 1


async def test_a_run_that_prints_every_requested_answer_ends_the_task() -> None:
    task = "What are the mean and the max price? Format: @mean[value] @max[value]"
    replies = [code_reply("print('@mean[3.50]')"), code_reply("print('@mean[3.50] @max[9]')")]
    runs = [ran(0, "@mean[3.50]\n"), ran(0, "@mean[3.50] @max[9]\n")]
    async with harness(replies, runs) as h:
        await h.submit(TaskRequest(prompt=task))
        result = await h.record.result()

    # the first run lacked @max: the model was asked again; the second had both: done
    assert result.status == "completed"
    assert result.answer == "@mean[3.50]\n@max[9]"
    assert result.turns == 2
    assert len(h.model.calls) == 2


VOTES = AssistantConfig(answer_votes=3)
MEAN_TASK = "What is the mean price? Format: @mean[value]"


async def test_with_answer_votes_two_independent_scripts_that_agree_end_the_task() -> None:
    replies = [
        code_reply("print('@mean[3.5]')"),
        code_reply("print('@mean[%s]' % 3.50)"),  # another script, the same value
    ]
    runs = [ran(0, "@mean[3.5]\n"), ran(0, "@mean[3.50]\n")]
    async with harness(replies, runs, config=VOTES) as h:
        await h.submit(TaskRequest(prompt=MEAN_TASK))
        result = await h.record.result()

    assert result.status == "completed"
    assert result.answer == "@mean[3.5]"
    assert result.turns == 2
    # the second script was written from the task alone, at the exploring temperature
    assert [m.content for m in h.model.calls[1]] == [m.content for m in h.model.calls[0]]
    assert h.model.extra_args == [{}, {"temperature": 0.8}]


async def test_with_answer_votes_the_answer_two_of_three_scripts_print_wins() -> None:
    replies = [
        code_reply("print('@mean[9.1]')"),  # the slip
        code_reply("print('@mean[3.5]')"),
        code_reply("print('@mean[3.50]')"),
    ]
    runs = [ran(0, "@mean[9.1]\n"), ran(0, "@mean[3.5]\n"), ran(0, "@mean[3.50]\n")]
    async with harness(replies, runs, config=VOTES) as h:
        await h.submit(TaskRequest(prompt=MEAN_TASK))
        result = await h.record.result()

    assert result.answer == "@mean[3.5]"
    assert result.turns == 3


async def test_with_answer_votes_no_agreement_keeps_the_first_answer() -> None:
    replies = [
        code_reply("print('@mean[3.5]')"),
        code_reply("print(1/0)"),  # a failed second opinion is no vote
        "The mean is 4.",  # nor is one without code
    ]
    runs = [ran(0, "@mean[3.5]\n"), ran(1, stderr="ZeroDivisionError: division by zero")]
    async with harness(replies, runs, config=VOTES) as h:
        await h.submit(TaskRequest(prompt=MEAN_TASK))
        result = await h.record.result()

    assert result.status == "completed"
    assert result.answer == "@mean[3.5]"
    assert result.turns == 3
    assert len(h.model.calls) == 3


async def test_with_answer_votes_the_same_script_again_agrees_without_a_run() -> None:
    script = code_reply("print('@mean[3.5]')")
    async with harness([script, script], [ran(0, "@mean[3.5]\n")], config=VOTES) as h:
        await h.submit(TaskRequest(prompt=MEAN_TASK))
        result = await h.record.result()

    assert result.answer == "@mean[3.5]"
    assert result.turns == 2
    assert len(h.record.requests) == 1


async def test_a_complete_run_with_nan_goes_back_to_the_model() -> None:
    task = "What is the mean price? Format: @mean[value]"
    replies = [code_reply("print('@mean[nan]')"), "@mean[3.5]"]
    async with harness(replies, [ran(0, "@mean[nan]\n")]) as h:
        await h.submit(TaskRequest(prompt=task))
        result = await h.record.result()

    assert result.status == "completed"
    assert result.answer == "@mean[3.5]"
    assert "The output contains NaN" in h.model.calls[1][-1].content


async def test_a_run_whose_figure_is_empty_does_not_end_the_task() -> None:
    task = "Plot the prices to plot.png and give their mean: @mean[value]"
    empty = "@mean[3.5]\nNote: plot.png was saved with no data in it: every series is empty\n"
    replies = [code_reply("plot()"), code_reply("plot(fixed)")]
    runs = [ran(0, empty, artifacts=["plot.png"]), ran(0, "@mean[3.5]\n", artifacts=["plot.png"])]
    async with harness(replies, runs) as h:
        await h.submit(TaskRequest(prompt=task))
        result = await h.record.result()

    assert result.answer == "@mean[3.5]"
    assert result.turns == 2
    assert "A figure with no data in it" in h.model.calls[1][-1].content


async def test_an_answer_about_files_before_any_code_ran_is_asked_for_a_script_once() -> None:
    task = TaskRequest(
        prompt="What is the mean price? Format: @mean[value]",
        files=[InputFile(name="prices.csv", content_b64="MSwy")],
    )
    replies = [
        "@mean[30.6]",  # a guess: no code ran
        code_reply("print(1/0)"),
        "@mean[2.0]",  # after a failed run, an answer without code is taken
    ]
    runs = [ran(1, stderr="ZeroDivisionError: division by zero")]
    async with harness(replies, runs) as h:
        await h.submit(task)
        result = await h.record.result()

    assert result.status == "completed"
    assert result.answer == "@mean[2.0]"
    assert result.turns == 3
    assert h.model.calls[1][-1].content.startswith("No code has run on the files yet")


async def test_an_answer_no_run_printed_is_asked_for_a_script_once() -> None:
    task = TaskRequest(
        prompt="What is the mean price? Format: @mean[value]",
        files=[InputFile(name="prices.csv", content_b64="MSwy")],
    )
    replies = [
        code_reply("m = 1.5"),  # runs, prints nothing
        "The mean price is 30.6.",  # made up: no run printed @mean
        code_reply("print('@mean[1.5]')"),
    ]
    async with harness(replies, [ran(0, ""), ran(0, "@mean[1.5]\n")]) as h:
        await h.submit(task)
        result = await h.record.result()

    assert result.status == "completed"
    assert result.answer == "@mean[1.5]"
    # after the silent run the model was asked for the script, not for the answer
    assert "The output does not show @mean[value]" in h.model.calls[1][-1].content
    assert h.model.calls[2][-1].content.startswith("No run has printed those answers yet")


async def test_the_answer_keeps_the_requested_form_the_code_printed() -> None:
    task = (
        "What is the mean price? Round to two decimals.\n"
        "Format: @mean_price[value] where value is a number."
    )
    replies = [code_reply("print('@mean_price[3.50]')"), "The mean price is 3.5."]
    keep_asking = AssistantConfig(finish_when_answered=False)
    async with harness(replies, [ran(0, "@mean_price[3.50]\n")], config=keep_asking) as h:
        await h.submit(TaskRequest(prompt=task))
        result = await h.record.result()

    assert result.status == "completed"
    assert result.answer == "The mean price is 3.5.\n\n@mean_price[3.50]"
    # after the run, the model was reminded of the task's own requirements
    asked = "Round to two decimals.\nFormat: @mean_price[value] where value is a number."
    feedback = h.model.calls[1][-1].content
    assert "The task said:\n" + asked in feedback
    assert "no code: each @name[value] answer the task asks for" in feedback
    # and the task message showed how to print the form
    assert h.model.calls[0][1].content == (
        task + "\nPrint each answer on its own line in that form, with the computed value "
        'inside the brackets, e.g. print(f"@mean_price[{value}]").'
    )


async def test_model_down_is_a_model_error_not_a_hang() -> None:
    down = ModelUnavailable("model at http://127.0.0.1:8081/v1 failed after 5 attempt(s)")
    async with harness([down]) as h:
        await h.submit(TaskRequest(prompt="anything"))
        result = await h.record.result()
        await h.runtime.stop_when_idle()

    assert result.status == "model_error"
    assert result.error == f"ModelUnavailable: {down}"
    assert result.turns == 0
    assert h.record.requests == []
    assert len(h.record.results) == 1


async def test_model_error_mid_task_keeps_turns_and_artifacts() -> None:
    rejected = ModelRequestRejected("context too long", status_code=400)
    runs = [ran(0, "ok", artifacts=["out.csv"])]
    async with harness([code_reply("print('ok')"), rejected], runs) as h:
        await h.submit(TaskRequest(prompt="go"))
        result = await h.record.result()

    assert result.status == "model_error"
    assert result.error == "ModelRequestRejected: context too long"
    assert result.turns == 1
    assert [a.name for a in result.artifacts] == ["out.csv"]


async def test_system_prompt_and_max_turns_defaults_and_overrides() -> None:
    config = AssistantConfig(system_prompt="Operator prompt.", max_turns=1)
    replies = [code_reply("print(1)"), code_reply("print(2)")]
    async with harness(replies, [ran(0, "1")], config=config) as h:
        await h.submit(TaskRequest(prompt="one"), session="a")
        await h.record.result()
        await h.runtime.stop_when_idle()
    assert h.model.calls[0][0] == SystemMessage(content="Operator prompt.")
    assert h.record.results[0].status == "max_turns"  # the operator's max_turns=1 applied
    assert h.record.results[0].turns == 1

    async with harness(["42"], config=config) as h:
        await h.submit(TaskRequest(prompt="two", system_prompt="Task prompt.", max_turns=3))
        result = await h.record.result()
    assert h.model.calls[0][0] == SystemMessage(content="Task prompt.")
    assert result.status == "completed"
    assert result.answer == "42"


class TokenLimitedFakeModel:
    """A fake model whose first reply hits the token limit inside a code block."""

    def __init__(self) -> None:
        self.calls: list[list[LLMMessage]] = []

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        extra_create_args: Mapping[str, Any] | None = None,
        cancellation_token: CancellationTokenLike | None = None,
    ) -> CreateResult:
        self.calls.append(list(messages))
        if len(self.calls) == 1:
            return CreateResult(content=CUT, finish_reason="length")
        return CreateResult(content=code_reply("print('short')"))

    async def close(self) -> None:
        pass


CUT = "Here:\n```python\nimport numpy as np\nx = np.arange("


async def test_reply_cut_off_inside_code_is_asked_again() -> None:
    model = TokenLimitedFakeModel()
    async with harness([], [ran(0, "short")], model=model) as h:
        await h.submit(TaskRequest(prompt="go", max_turns=2))
        result = await h.record.result()

    assert model.calls[1][-1].content == truncated_reply_feedback()
    assert model.calls[1][-2].content == CUT
    [request] = h.record.requests  # half a script never ran; the complete one did
    assert request.turn == 2
    assert request.code_blocks[0].code == "print('short')"
    assert result.status == "max_turns"
    assert result.turns == 2


async def test_the_model_reads_only_the_latest_turns_that_fit() -> None:
    config = AssistantConfig(max_history_chars=1)  # room for nothing: the latest turn only
    replies = [code_reply("print(1)"), code_reply("print(2)"), code_reply("print(3)"), "3"]
    async with harness(replies, [ran(0, "1"), ran(0, "2"), ran(0, "3")], config=config) as h:
        await h.submit(TaskRequest(prompt="count to three"))
        result = await h.record.result()

    assert result.status == "completed"
    assert result.turns == 4
    assert [len(c) for c in h.model.calls] == [2, 4, 4, 4]
    last = h.model.calls[3]
    assert last[1].content == "count to three"
    assert last[2].content == code_reply("print(3)")
    assert len(await h.store.history("s1")) == 9  # the store keeps everything


async def test_an_answer_that_echoes_the_instructions_is_asked_for_once_more() -> None:
    echo = "The results in a sentence or two, with the output's numbers, naming the files it made."
    replies = [code_reply("print(2)"), echo, "The script printed 2."]
    async with harness(replies, [ran(0, "2\n")]) as h:
        await h.submit(TaskRequest(prompt="Print two."))
        result = await h.record.result()

    assert result.answer == "The script printed 2."
    assert result.turns == 3
    assert h.model.calls[2][-1].content.startswith("That reply repeats the instructions")


async def test_an_answer_that_quotes_the_output_is_not_an_echo() -> None:
    replies = [code_reply("print('@mean[3.5]')"), "@mean[3.5]"]
    keep_asking = AssistantConfig(finish_when_answered=False)
    async with harness(replies, [ran(0, "@mean[3.5]\n")], config=keep_asking) as h:
        await h.submit(TaskRequest(prompt="The mean? Format: @mean[value]"))
        result = await h.record.result()

    assert result.answer == "@mean[3.5]"
    assert result.turns == 2
