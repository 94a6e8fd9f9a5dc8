"""Checking a data question's final answer against its stored expected answer.

The rules (what "exactly right" means; a question is exactly right only when every one of its
sub-answers is):

* ``@name[value]`` forms: every ``@name[...]`` in the final answer (``TaskResult.answer``) is
  found, the name compared case-insensitively; a copy of the prompt's own placeholder (e.g.
  ``@mean_fare[value]`` said back) is ignored. The sub-answer is right when there is at least
  one and **every** one holds the right value (an answer that gives two different values is
  wrong). Text outside the tags does not matter; text inside the brackets does.
* A number is right when it parses (a ``%`` sign, surrounding quotes or ``*``, thousands
  commas and a typographic minus are tolerated) and differs from the expected value by at
  most one unit in the last requested decimal (0.01 for two decimals, 1 for "a whole
  number"), so that round-half-even vs half-up, or an unrounded 29.985 for 29.99, is not held
  against it. A count (integer) must be exact. A text value is compared case-insensitively
  after stripping spaces and quotes.
* Plain forms (the question asks for a sentence): the expected number must be among the
  numbers of the answer (same tolerance), or the expected text must appear as a word. This is
  more lenient than the tags, and only a few questions use it.
* Files: the named file came back; a CSV must have the expected rows (row count and the set of
  key values, whatever the column order or an extra index column); a PNG must not be blank
  (saturated pixels, as ``_quality_tasks.coloured_pixels`` counts them).

The diagnostic "value computed but lost": the question was not exactly right, yet every
expected value (files aside) appears in some execution output, by the same rules as a plain
answer. It is a hint that the model computed the answer and then garbled or dropped it (for
small counts it can be a coincidence: a printed table holds many small numbers).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from _data_questions import Answer, Question, csv_digest

TAG = re.compile(r"@([A-Za-z_]\w*)\s*\[([^\]\n]*)\]")
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?")
THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
MIN_COLOURED_PIXELS = 200


@dataclass
class Verdict:
    """The check of one answer: failure kinds (none: exactly right) and notes."""

    kinds: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    computed: bool = False
    """Every expected value (files aside) appears in some execution output."""
    computed_but_lost: bool = False

    @property
    def right(self) -> bool:
        return not self.kinds


def parse_number(raw: str) -> float | None:
    """The number in a tag's brackets, or None when there is anything else in them."""
    value = raw.strip().strip("*`'\" ").rstrip("%").strip().replace("\u2212", "-")
    if THOUSANDS.match(value):
        value = value.replace(",", "")
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def number_matches(answer: Answer, expected: str, got: float) -> bool:
    if answer.kind == "integer":
        return got == int(expected)
    return abs(got - float(expected)) <= 10.0**-answer.decimals * (1 + 1e-9)


def value_right(answer: Answer, expected: str, raw: str) -> bool | None:
    """True / False for a tag's content; None when a number was asked and none is there."""
    if answer.kind in ("number", "integer"):
        got = parse_number(raw)
        return None if got is None else number_matches(answer, expected, got)
    return raw.strip().strip("*`'\" ").strip().lower() == expected.strip().lower()


def appears_in(answer: Answer, expected: str, text: str) -> bool:
    """Whether the expected value is said anywhere in free text (plain forms, outputs)."""
    if answer.kind in ("number", "integer"):
        for token in NUMBER.findall(text):
            got = parse_number(token)
            if got is not None and number_matches(answer, expected, got):
                return True
        return False
    return re.search(rf"(?<![\w.-]){re.escape(expected)}(?![\w-])", text, re.IGNORECASE) is not None


def placeholders(prompt: str) -> dict[str, str]:
    """The bracket text of each ``@name[...]`` in the prompt: said back, it is no answer."""
    return {name.lower(): inner.strip().lower() for name, inner in TAG.findall(prompt)}


def check_tag(answer: Answer, expected: str, text: str, shown: dict[str, str]) -> str | None:
    """A failure kind for one ``@name[...]`` sub-answer, or None when it is right."""
    found = [
        inner
        for name, inner in TAG.findall(text)
        if name.lower() == answer.name.lower()
        and inner.strip().lower() != shown.get(answer.name.lower())
    ]
    if not found:
        return "no_tag"
    verdicts = [value_right(answer, expected, inner) for inner in found]
    if any(v is None for v in verdicts):
        return "malformed"
    return None if all(verdicts) else "wrong_value"


def check_file(answer: Answer, expected: str, artifacts: dict[str, Path]) -> tuple[str | None, str]:
    """A failure kind for a file sub-answer (None: right) and a note."""
    path = artifacts.get(answer.name)
    if path is None:
        suffix = Path(answer.name).suffix
        others = sorted(n for n in artifacts if n.endswith(suffix))
        return ("file_misnamed" if others else "no_file"), f"{answer.name}: got {others}"
    if answer.kind == "csv":
        try:
            got = csv_digest(path, answer.key)
        except (OSError, ValueError) as exc:  # pandas' parser errors are ValueErrors
            return "wrong_rows", f"{answer.name}: unreadable ({exc})"
        return (None if got == expected else "wrong_rows"), f"{answer.name}: {got}"
    from _quality_tasks import coloured_pixels

    try:
        coloured = coloured_pixels(path)
    except OSError as exc:
        return "png_unreadable", f"{answer.name}: {exc}"
    right = coloured >= MIN_COLOURED_PIXELS
    return (None if right else "png_blank"), f"{answer.name}: {coloured} coloured pixels"


def check_answer(
    q: Question,
    expected: dict[str, str],
    answer_text: str,
    artifacts: dict[str, Path],
    outputs: list[str],
) -> Verdict:
    """Every sub-answer of ``q`` against ``expected`` (see the module docstring)."""
    verdict = Verdict()
    shown = placeholders(q.prompt)
    values = [a for a in q.answers if a.kind not in ("csv", "png")]
    for answer in q.answers:
        want = expected[answer.name]
        if answer.kind in ("csv", "png"):
            kind, note = check_file(answer, want, artifacts)
            verdict.notes.append(note)
        elif q.form == "plain":
            kind = None if appears_in(answer, want, answer_text) else "wrong_value"
        else:
            kind = check_tag(answer, want, answer_text, shown)
        if kind is not None:
            verdict.kinds.append(kind)
            if answer.kind not in ("csv", "png"):
                verdict.notes.append(f"{answer.name}: expected {want}")
    everywhere = "\n".join(outputs)
    verdict.computed = all(appears_in(a, expected[a.name], everywhere) for a in values)
    verdict.computed_but_lost = bool(verdict.kinds and values and verdict.computed)
    return verdict
