"""What form the task wants its answer in, and keeping that form in the final answer.

Users ask for answers in a form: ``@mean_fare[value]`` lines, two decimals, a percentage, a file
named ``sales.png``. A small model computes the right value and then paraphrases it ("the mean
value ... is 570.68"), so the form is restated where the model decides to answer (the feedback
after a successful run quotes the task's own requirement sentences, see ``requirements``), and
what the runs already printed in the requested form is kept (``keep_requested_forms``): when the
final reply lacks an ``@name[...]`` answer, or copies the task's placeholder
(``@mean_fare[mean_value]``), the latest value the code printed in that form is put in. Nothing
here knows any particular task: the forms come from the task's text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "FORM",
    "agreed_answer",
    "answered_forms",
    "form_hint",
    "keep_requested_forms",
    "missing_forms",
    "printed_forms",
    "requested_files",
    "requirements",
]

FORM = re.compile(r"@([A-Za-z_][\w-]*)\[([^\]\n]*)\]")
"""An ``@name[value]`` answer, as tasks ask for and scripts print."""
_WRAPPED = re.compile(r"(?<=[^\n])\n(?=[^\n@\-*\d])")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z@])|\n+")
_ASKS = re.compile(
    r"@\w+\[|\b(?:format|formatted|round(?:ed|ing)?|decimals?|digits?|significant|percent(?:age)?"
    r"|units?|save[sd]?|named?|answer with|respond with|reply with|report|express(?:ed)?"
    r"|as an? (?:integer|number|float|list|percentage|string|fraction)|in the form)\b"
    r"|%|\.(?:png|jpe?g|svg|pdf|csv|tsv|txt|json|xlsx|html|md)\b",
    re.IGNORECASE,
)
_PLACEHOLDER_THEN_VALUE = re.compile(r"@([A-Za-z_][\w-]*)\[([^\]\n]*)\][ \t]*[:=][ \t]*([^\s,;]+)")
_FILE = re.compile(r"\b[\w.-]+\.(?:png|jpe?g|svg|pdf|csv|tsv|txt|json|xlsx|html|md|parquet)\b")
REQUIREMENTS_CHARS = 700
MAX_FORMS = 64


def requirements(prompt: str, inputs: Sequence[str] = ()) -> str:
    """The sentences of the task that say what to return and how (format, rounding, units,
    names of files to make), in order; empty when it has none. Not the whole task: restated
    whole, the 1.5B copied it back as its "answer". ``inputs``: the input files' names, which
    do not make a sentence a requirement."""
    text = _WRAPPED.sub(" ", prompt.strip())  # a hard-wrapped sentence is one sentence
    sentences = [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]
    asked = [s for s in sentences if _ASKS.search(_without(s, inputs))]
    out = "\n".join(dict.fromkeys(asked))
    return out if len(out) <= REQUIREMENTS_CHARS else out[: REQUIREMENTS_CHARS - 3] + "..."


def _without(sentence: str, names: Sequence[str]) -> str:
    for name in names:
        sentence = sentence.replace(name, "")
    return sentence


def requested_files(prompt: str, inputs: Sequence[str] = ()) -> list[str]:
    """File names the task mentions that are not its input files (files it asks to create)."""
    given = set(inputs)
    return [name for name in dict.fromkeys(_FILE.findall(prompt)) if name not in given]


def form_hint(prompt: str) -> str:
    """For a task that asks for ``@name[...]`` answers: how the script prints them (a small
    model otherwise printed ``@top_port[port code] = S``, the form with its placeholder)."""
    wanted = _wanted(prompt)
    if not wanted:
        return ""
    name = next(iter(wanted))
    return (
        "Print each answer on its own line in that form, with the computed value inside the "
        f'brackets, e.g. print(f"@{name}[{{value}}]").'
    )


def printed_forms(output: str, prompt: str) -> list[str]:
    """Every ``@name[value]`` a run printed, in order (a task's form printed with its
    placeholder and then the value, ``@x[value] = 3``, is read as ``@x[3]``)."""
    return [m.group(0) for m in FORM.finditer(_normalized(output, _wanted(prompt)))][:MAX_FORMS]


def _normalized(output: str, wanted: dict[str, set[str]]) -> str:
    def value_inside(match: re.Match[str]) -> str:
        name, inside, value = match.group(1), match.group(2).strip(), match.group(3)
        if inside in wanted.get(name, ()):
            return f"@{name}[{value}]"
        return match.group(0)

    return _PLACEHOLDER_THEN_VALUE.sub(value_inside, output)


def _wanted(prompt: str) -> dict[str, set[str]]:
    """The task's ``@name[placeholder]`` forms: name -> the placeholders it shows."""
    wanted: dict[str, set[str]] = {}
    for match in FORM.finditer(prompt):
        wanted.setdefault(match.group(1), set()).add(match.group(2).strip())
    return wanted


def missing_forms(prompt: str, output: str) -> list[str]:
    """The task's ``@name[...]`` forms (as the task writes them) that ``output`` does not
    print with a value: what a run that "succeeded" has not answered yet."""
    wanted = _wanted(prompt)
    printed = {
        m.group(1)
        for m in FORM.finditer(_normalized(output, wanted))
        if m.group(1) in wanted and m.group(2).strip() not in wanted[m.group(1)]
    }
    return [f"@{name}[{sorted(shown)[0]}]" for name, shown in wanted.items() if name not in printed]


def answered_forms(prompt: str, output: str) -> str | None:
    """When the task asks for ``@name[...]`` answers and ``output`` printed every one of them
    with a value (not the task's placeholder), those answers, one per line (the last printed
    of each name, in the task's order); otherwise None."""
    wanted = _wanted(prompt)
    if not wanted:
        return None
    printed = {
        m.group(1): m.group(0)
        for m in FORM.finditer(_normalized(output, wanted))
        if m.group(1) in wanted and m.group(2).strip() not in wanted[m.group(1)]
    }
    if set(printed) != set(wanted):
        return None
    return "\n".join(printed[name] for name in wanted)


def keep_requested_forms(answer: str, prompt: str, printed: Sequence[str]) -> str:
    """``answer`` with the task's ``@name[...]`` forms filled in from what the runs printed
    (``printed``, oldest first) where the answer lacks them or repeats the task's placeholder."""
    wanted = _wanted(prompt)
    if not wanted:
        return answer
    latest = {m.group(1): m.group(0) for m in map(FORM.fullmatch, printed) if m is not None}
    fixed = answer
    added: list[str] = []
    for name, placeholders in wanted.items():
        given = [m for m in FORM.finditer(fixed) if m.group(1) == name]
        real = [m for m in given if m.group(2).strip() not in placeholders]
        if real or name not in latest:
            continue
        if given:  # the placeholder copied from the task: put the printed value in its place
            fixed = fixed.replace(given[-1].group(0), latest[name])
        else:
            added.append(latest[name])
    if added:
        fixed = fixed.rstrip() + ("\n\n" if fixed.strip() else "") + "\n".join(added)
    return fixed


def agreed_answer(answers: Sequence[str]) -> str | None:
    """The first of ``answers`` (``answered_forms`` texts) that another one agrees with: the
    same values, numbers compared as numbers (``29.5`` and ``29.50`` agree); None if none."""
    keys = [_answer_key(a) for a in answers]
    for i, key in enumerate(keys):
        if key in keys[i + 1 :]:
            return answers[i]
    return None


def _answer_key(answer: str) -> tuple[tuple[str, str], ...]:
    def value(text: str) -> str:
        text = text.strip().strip("'\"").strip()
        try:
            return repr(float(text.rstrip("%")))
        except ValueError:
            return text.lower()

    return tuple((m.group(1), value(m.group(2))) for m in FORM.finditer(answer))
