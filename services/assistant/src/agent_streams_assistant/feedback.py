"""What the model reads: the system prompt, the task, and how an execution result is fed back.

A small local model repairs code poorly from a raw dump (LOCAL-LLM.md: 5/23 within two
replies, often repeating the same script), and the feedback format is a lever. So the feedback
is short, leads with the verdict, and ends with one concrete instruction:

* the task: the prompt, then the input files as ``describe_files`` printed them (columns,
  types, ranges, first rows), so that the first script is not written blind.
* failure: ``exit code 1, the error was:`` + the *tail* of stderr (the traceback's last frames
  and the error line, which is what matters), the run's notes (e.g. which modules are installed
  when an import failed), one sentence on what the error means (``repair.explain``), then "fix
  the script and reply with the whole corrected script in one python block". When the error is
  the same as last time, it says so and asks for a different approach. A script identical to
  one already run is not run again (``repeated_script_feedback``).
* timeout: says it was stopped after N s and asks for a faster script.
* success: the output (head and tail when long), the files created, a note for files the task
  asks for that no run made; when the task's ``@name[...]`` answers are not all in the output,
  that it is not answered yet and a request for the corrected script; otherwise "if this output
  answers the task, reply with the final answer
  and no code, in the form the task asks for:" followed by the task's own requirement sentences
  (``answer_form.requirements``: format, rounding, units, file names). A fixed instruction
  ("state the output's numbers and name the files") made the 1.5B paraphrase instead of
  answering in the requested form. When the output shows NaN, a note says that values are
  missing and asks for a fix unless NaN is the expected result.

The whole conversation is stored, but the model reads at most ``max_history_chars`` of it
(``fit_history``): the system prompt, the task, and the most recent turns that fit. The embedded
model has a 4096-token context; a long repair loop would otherwise end in "context too long".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent_streams.messages import ExecutionResult

from .models import LLMMessage
from .repair import explain
from .traceback_view import compact

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "EMPTY_FIGURE",
    "NAN",
    "Feedback",
    "TaskAsks",
    "echo_feedback",
    "echoes",
    "execution_feedback",
    "fit_history",
    "fresh_start_note",
    "repeated_script_feedback",
    "task_prompt",
    "truncated_reply_feedback",
    "unbacked_answer_feedback",
]

DEFAULT_SYSTEM_PROMPT = (
    "Write Python script in markdown block, and it will be executed.\n"
    "Always save figures to file in the current directory. Do not use plt.show(). "
    "All code required to complete this task must be contained within a single response.\n"
    "Print the values that answer the task; when the task gives an answer format, print each "
    "answer in that format."
)
"""The AutoGen code-execution quickstart's system prompt, plus one line: the script prints
what answers the task, in the task's answer format when it gives one (what is printed in that
form survives into the final answer, see ``answer_form``)."""

NAN_NOTE = (
    "The output contains NaN (missing values): often a filter, a join or a date range went "
    "wrong, and a plot of them is empty. Unless NaN is the expected result, find the mistake, "
    "fix the script and reply with the whole corrected script.\n"
)
NAN = re.compile(r"\b(?:NaN|nan)\b")
EMPTY_FIGURE = re.compile(r"^Note: \S+ was saved with no data in it", re.MULTILINE)
"""The executor's note for a figure saved with nothing plotted (the sandbox's child)."""
EMPTY_FIGURE_NOTE = (
    "A figure with no data in it is not the plot the task asks for: find why the plotted data "
    "is empty, fix the script and reply with the whole corrected script.\n"
)
_NOTE = re.compile(r"^Note: .+$", re.MULTILINE)

ERROR_TAIL_LINES = 20
ERROR_TAIL_CHARS = 1_500
OUTPUT_CHARS = 3_000
ANSWER_WITHOUT_FORM = (
    "the results in a sentence or two, with the output's numbers, naming the files it made."
)
FORMS_ANSWER = "each @name[value] answer the task asks for, with its value from the output."
NOT_DONE = (
    "So the task is not done yet: reply with the whole corrected script in one ```python block."
)
"""The ending of the feedback when the run cannot have completed the task (a requested file is
missing, a figure is empty): no invitation to answer, which the 1.5B took and echoed."""


def task_prompt(prompt: str, names: Sequence[str], description: str = "", hint: str = "") -> str:
    """The first user message: the task (and ``hint``, how to print its answers), and the
    input files the code will find (with what ``describe_files`` printed about them, when
    they were described)."""
    text = f"{prompt}\n{hint}" if hint else prompt
    if not names:
        return text
    if not description.strip():
        return f"{text}\n\nThese files are in the current directory: {', '.join(names)}"
    return f"{text}\n\nThese files are in the current directory:\n{description.strip()}"


@dataclass(frozen=True, slots=True)
class Feedback:
    """The user message for one execution result, and the error it reported (if any)."""

    text: str
    error: str | None
    line: str | None = None
    """The script's line that raised, when the traceback shows it."""


@dataclass(frozen=True, slots=True)
class TaskAsks:
    """What the feedback restates of the task: its requirement sentences
    (``answer_form.requirements``) and the files it asks for that no run has made yet."""

    requirements: str = ""
    missing_files: tuple[str, ...] = ()
    forms: bool = False
    """The task asks for ``@name[value]`` answers."""
    missing_forms: tuple[str, ...] = ()
    """Of those, the ones this run's output does not print with a value."""


def execution_feedback(
    result: ExecutionResult,
    *,
    timeout_s: float,
    previous_error: str | None,
    asks: TaskAsks = TaskAsks(),
) -> Feedback:
    """Turn an ``ExecutionResult`` into the next user message (see the module docstring)."""
    if result.timed_out:
        tail = _tail(result.output or result.stderr)
        text = (
            f"The script was stopped after {timeout_s:g} s (time limit, exit code "
            f"{result.exit_code}).\n"
            + (f"Output before it stopped:\n{tail}\n" if tail else "")
            + "Make it faster (less data, fewer iterations) and reply with the whole "
            "corrected script in one ```python block."
        )
        return Feedback(text, "timeout")
    if result.exit_code != 0:
        view = compact(result.stderr or result.output)
        line = None
        if view is not None:
            tail, error, line = view.text, view.error, view.line
        else:
            tail = _tail(result.stderr or result.output) or "(no error output)"
            error = _last_line(tail)
        notes = [n for n in _NOTE.findall(result.output) if n not in tail]
        hint = explain(error)
        repeated = previous_error is not None and error == previous_error
        text = (
            f"exit code {result.exit_code}, the error was:\n{tail}\n"
            + "".join(f"{note}\n" for note in notes)
            + (f"What it means: {hint}\n" if hint else "")
            + (
                "This is the same error as last time: do not repeat that script, change "
                "the approach.\n"
                if repeated
                else ""
            )
            + "Fix the script and reply with the whole corrected script in one ```python block."
        )
        return Feedback(text, error, line)
    output = _head_and_tail(result.output.strip()) or "(no output)"
    files = ", ".join(a.name for a in result.artifacts)
    missing = ", ".join(asks.missing_files)
    empty = EMPTY_FIGURE.search(result.output) is not None
    text = (
        f"exit code 0, the script ran. Output:\n{output}\n"
        + (f"Files created: {files}\n" if files else "")
        + (NAN_NOTE if NAN.search(result.output) else "")
        + (EMPTY_FIGURE_NOTE if empty else "")
        + (f"The task asks for {missing}, which no run has created yet.\n" if missing else "")
        + (f"The task said:\n{asks.requirements}\n" if asks.requirements else "")
        + (
            _unanswered(asks.missing_forms)
            if asks.missing_forms
            else NOT_DONE
            if missing or empty
            else _answer_or_fix(asks)
        )
    )
    return Feedback(text, None)


def _answer_or_fix(asks: TaskAsks) -> str:
    return (
        "If the output above completes the task, reply with the final answer and no code: "
        + (FORMS_ANSWER if asks.forms else ANSWER_WITHOUT_FORM)
        + "\nOtherwise reply with the whole corrected script in one ```python block."
    )


def _unanswered(forms: Sequence[str]) -> str:
    """A run that printed without the task's answers has not answered it: the 1.5B, asked
    "if the output completes the task, answer", made up values for a script that printed
    nothing."""
    return (
        f"The output does not show {', '.join(forms)} with a computed value, so the task is "
        "not answered yet. Reply with the whole corrected script in one ```python block that "
        "computes and prints " + ("it." if len(forms) == 1 else "each of them.")
    )


def fresh_start_note(failed: Sequence[tuple[int, str, str | None]]) -> str:
    """What the model reads instead of its earlier attempts once it is stuck: each failed
    script's turn, the line that raised and the error, then a request for a new script. A
    small model with its failing script in view sends it back (seen 7 times in a row, at a
    temperature of 0.8); without it, it writes a new one."""
    lines = ["Your earlier scripts for this task did not work:"]
    for turn, error, where in failed:
        at = f" at `{where}`" if where else ""
        hint = explain(error)
        lines.append(f"- turn {turn} failed{at} with {error}" + (f" ({hint})" if hint else ""))
    lines.append(
        "Write a new script from scratch, with a different approach, and reply with the whole "
        "script in one ```python block."
    )
    return "\n".join(lines)


def repeated_script_feedback(turn: int, error: str | None) -> str:
    """For a reply whose script is one already run (turn ``turn``), not run again: it failed
    with ``error``, or (None) it ran successfully and its output is above."""
    if error is None:
        return (
            f"This is the same script as turn {turn}, which already ran successfully: its "
            "output is above. Do not send it again. If that output answers the task, reply "
            "with the final answer and no code; otherwise write a different script."
        )
    hint = explain(error)
    return (
        f"This is the same script as turn {turn}, which failed with:\n{error}\n"
        + (f"What it means: {hint}\n" if hint else "")
        + "It was not run again: it would fail the same way. Change the approach and reply "
        "with a different, whole script in one ```python block."
    )


def unbacked_answer_feedback(ran: bool = False) -> str:
    """For an answer to a task about files that no code has computed yet (``ran``: scripts
    ran, but none printed the task's answers)."""
    why = "No run has printed those answers yet" if ran else "No code has run on the files yet"
    return (
        f"{why}, so that answer is a guess. Reply with a Python "
        "script in one ```python block that computes the answer from the files and prints it "
        "(in the task's answer format, if it gives one)."
    )


def echoes(reply: str, instructions: str) -> bool:
    """Whether ``reply`` mostly repeats lines of ``instructions`` (the message it answers)
    instead of answering: at least 60 % of its lines are lines, or long parts of lines, of it."""
    said = [line.strip().lower() for line in reply.splitlines() if line.strip()]
    heard = instructions.lower()
    if not said or not heard:
        return False
    copied = sum(1 for line in said if line in heard and (len(line) > 20 or line + "\n" in heard))
    return copied >= 0.6 * len(said)


def echo_feedback() -> str:
    """For a reply that repeats the instructions instead of answering."""
    return (
        "That reply repeats the instructions instead of answering. If the output above "
        "completes the task, reply with the final answer for the user (no code); otherwise "
        "reply with the whole corrected script in one ```python block."
    )


def truncated_reply_feedback() -> str:
    """For a reply cut off at the token limit inside a code block."""
    return (
        "Your reply was cut off before the code block ended. Reply with a shorter, complete "
        "script in one ```python block."
    )


def fit_history(history: Sequence[LLMMessage], max_chars: int) -> list[LLMMessage]:
    """What the model reads: the first two messages (system prompt, task) and the longest
    suffix of whole turns (a reply and the feedback on it) within ``max_chars`` in all. The
    latest turn is always kept, even over the budget."""
    head, rest = list(history[:2]), list(history[2:])
    budget = max_chars - sum(len(m.content) for m in head)
    start = len(rest)
    used = 0
    # turns end at the end of the history; step back one (reply, feedback) pair at a time
    while start >= 2:
        pair = len(rest[start - 2].content) + len(rest[start - 1].content)
        if used + pair > budget and start < len(rest):
            break
        used += pair
        start -= 2
    if start == 1 and used + len(rest[0].content) <= budget:
        start = 0
    return head + rest[start:]


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    tail = "\n".join(lines[-ERROR_TAIL_LINES:])
    if len(tail) > ERROR_TAIL_CHARS:
        tail = "..." + tail[-ERROR_TAIL_CHARS:]
    return tail


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1].strip() if lines else ""


def _head_and_tail(text: str) -> str:
    if len(text) <= OUTPUT_CHARS:
        return text
    half = OUTPUT_CHARS // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n... ({cut} characters cut) ...\n{text[-half:]}"
