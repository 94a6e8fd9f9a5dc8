"""Repair that converges: explain an error, and notice a model that repeats itself.

LOCAL-LLM.md measured the embedded model repairing code from a traceback in 5 of 23 cases
within two replies, most often by sending the same script again. Two levers here:

* ``explain`` turns the error line of a failed run into one sentence that says what the error
  usually means and what to do, for the errors model-written data scripts hit most (a column
  name that does not exist, a module that is not installed, text where numbers are expected,
  missing values in a fit, ...). Generic Python and pandas knowledge, no task's specifics.
* ``fingerprint`` identifies a script (its code blocks, whitespace-insensitive), so that the
  Assistant can answer a script it has already run without running it again: a failed one
  with "this failed before with ... , change the approach", a successful one with "this ran
  before, answer now". A turn spent on a repeat then costs a model reply, not an execution.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from agent_streams.messages import CodeBlockSpec

__all__ = ["explain", "fingerprint"]

_HINTS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^KeyError: (-?\d+)$"),
        "KeyError {0}: a Series or DataFrame was indexed by a position it has no label for: "
        "use .iloc[{0}] for a position (e.g. .iloc[-1] for the last row), or check the filter "
        "kept any rows.",
    ),
    (
        re.compile(r"^KeyError: (.+)"),
        "KeyError {0}: there is no column or key of that name. Use the column names exactly "
        "as the file description above lists them (case and spaces matter).",
    ),
    (
        re.compile(r"^ModuleNotFoundError: No module named '([^']+)'"),
        "the module {0!r} is not installed and cannot be installed (no network): use one of "
        "the installed modules named in the note.",
    ),
    (
        re.compile(r"^FileNotFoundError"),
        "that file is not in the current directory: use the input file names given with the "
        "task, or a file an earlier run saved.",
    ),
    (
        re.compile(r"^NameError: name '(\w+)' is not defined"),
        "{0!r} is used before it is defined: a missing import or a variable never assigned.",
    ),
    (
        re.compile(r"^(?:SyntaxError|IndentationError)"),
        "the script is not valid Python (often prose or an unfinished line in it): send the "
        "complete script and nothing else in the code block.",
    ),
    (
        re.compile(r"could not convert string to float: '([A-Za-z][^'\d]*)'"),
        "the text value '{0}' is a category, not a number: encode the text columns as numbers "
        "before this step (pd.get_dummies(X, columns=[...], drop_first=True), or "
        ".map({{...}})); pd.to_numeric would only turn them into NaN.",
    ),
    (
        re.compile(
            r"could not convert string to float|unsupported operand type.*'str'"
            r"|Could not convert .* to numeric|agg function failed.*dtype->object",
            re.IGNORECASE,
        ),
        "a column holds text where numbers are expected: select the numeric columns, or "
        "convert with pd.to_numeric(column, errors='coerce').",
    ),
    (
        re.compile(r"Input (?:X|y) contains NaN|contains NaN|NaN.*not (?:supported|allowed)"),
        "the data has missing values: drop them (dropna) or fill them before this step.",
    ),
    (
        re.compile(r"^AttributeError: '(\w+)' object has no attribute '(\w+)'"),
        "a {0} has no attribute {1!r}: a column is read with df['name'], and a method must "
        "exist in the installed library version.",
    ),
    (
        re.compile(r"time data .* doesn't match format|Unknown datetime string format"),
        "the dates are written in another format than the one given: parse them with the "
        "format the file description above shows, e.g. pd.to_datetime(column, format=...).",
    ),
    (
        re.compile(r"^TypeError: .*(?:Timestamp|datetime|str.*date|date.*str)", re.IGNORECASE),
        "dates are compared or computed as text: parse the column with pd.to_datetime first.",
    ),
    (
        re.compile(r"^(?:IndexError|ValueError: .*(?:empty|zero-size|0 sample))", re.IGNORECASE),
        "the selection is probably empty: check the filter's values against the data "
        "(print how many rows it keeps).",
    ),
    (
        re.compile(r"^MemoryError|exit code 137"),
        "the script ran out of memory: work on fewer rows or columns at a time.",
    ),
]


def explain(error_line: str) -> str | None:
    """One sentence on what ``error_line`` (the last line of a traceback) usually means and
    what to change, or None when it is not one of the common ones."""
    line = error_line.strip()
    for pattern, hint in _HINTS:
        match = pattern.search(line)
        if match is not None:
            return hint.format(*match.groups())
    return None


def fingerprint(blocks: Sequence[CodeBlockSpec]) -> str:
    """A short digest of a script's blocks that ignores blank lines and indentation-neutral
    whitespace at line ends (what a model changes when it "sends it again")."""
    digest = hashlib.sha256()
    for block in blocks:
        lines = [line.rstrip() for line in block.code.strip().splitlines() if line.strip()]
        digest.update(block.language.encode() + b"\0" + "\n".join(lines).encode() + b"\0")
    return digest.hexdigest()[:16]
