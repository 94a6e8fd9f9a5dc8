"""The data questions: plain analysis questions over ``quality_data/``, with exact answers.

Each question is what a user would type (the question, its constraints, the answer format),
one or more input files, its category and difficulty, the sub-answers it asks for, and a
reference solution: a function that reads the files from the working directory with
pandas / numpy / scipy / scikit-learn / statsmodels and returns the raw values (and writes the
files a file question asks for). The questions live by dataset in ``_questions_*.py``.

The expected answers are stored in ``quality_data/expected.json``, as the strings a right
answer holds (numbers already rounded to the requested decimals; for a CSV file its row count
and a digest of its key column(s); for a PNG, ``"png"``). ``tests/unit/test_quality_questions.py``
recomputes every one from the committed files; after changing a question or the data:

    uv run python bench/_data_questions.py --write-expected
    uv run python bench/_data_questions.py --list

``reference_script`` turns a reference into the python block the ``--reference`` fake model
sends through the real loop: the function's own source plus lines printing each value in the
requested ``@name[value]`` form.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

DATA_DIR = Path(__file__).resolve().parent / "quality_data"
EXPECTED_FILE = DATA_DIR / "expected.json"
CATEGORIES = (
    "summary",
    "correlation",
    "groupby",
    "dates",
    "cleaning",
    "outliers",
    "regression",
    "classification",
    "plot",
    "text",
)
Kind = Literal["number", "integer", "text", "csv", "png"]


@dataclass(frozen=True)
class Answer:
    """One sub-answer: ``@name[...]`` (or, for a file, the file's name).

    ``decimals``: for a number, the requested precision. ``key``: for a CSV, the column(s),
    comma-separated, that identify a row.
    """

    name: str
    kind: Kind
    decimals: int = 0
    key: str = ""


def num(name: str, decimals: int) -> Answer:
    return Answer(name, "number", decimals)


def count(name: str) -> Answer:
    return Answer(name, "integer")


def text(name: str) -> Answer:
    return Answer(name, "text")


def csv_file(name: str, key: str) -> Answer:
    return Answer(name, "csv", key=key)


def png_file(name: str) -> Answer:
    return Answer(name, "png")


Reference = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Question:
    """A question, its inputs and answers; ``form`` "plain" asks for a sentence, not tags."""

    qid: str
    category: str
    difficulty: str
    files: tuple[str, ...]
    prompt: str
    answers: tuple[Answer, ...]
    reference: Reference
    form: Literal["tags", "plain"] = "tags"

    def paths(self) -> tuple[Path, ...]:
        return tuple(DATA_DIR / name for name in self.files)


_REGISTRY: list[Question] = []


def question(
    qid: str,
    category: str,
    difficulty: str,
    files: str,
    prompt: str,
    *answers: Answer,
    form: Literal["tags", "plain"] = "tags",
) -> Callable[[Reference], Reference]:
    """Register the decorated function as the reference solution of this question."""
    if category not in CATEGORIES:
        raise ValueError(f"{qid}: unknown category {category!r}")

    def register(function: Reference) -> Reference:
        _REGISTRY.append(
            Question(
                qid,
                category,
                difficulty,
                tuple(files.split(",")),
                inspect.cleandoc(prompt),
                answers,
                function,
                form,
            )
        )
        return function

    return register


def all_questions() -> list[Question]:
    """Every question, in a stable order (by dataset, then as written)."""
    import _questions_people  # noqa: F401  (they register on import)
    import _questions_readings  # noqa: F401
    import _questions_sales  # noqa: F401

    ids = Counter(q.qid for q in _REGISTRY)
    if doubled := [qid for qid, n in ids.items() if n > 1]:
        raise ValueError(f"question ids used twice: {doubled}")
    return list(_REGISTRY)


# -- expected answers -------------------------------------------------------------------------
def format_value(answer: Answer, value: Any) -> str:
    """A raw reference value as the string a right answer holds."""
    if answer.kind == "number":
        return f"{float(value):.{answer.decimals}f}"
    if answer.kind == "integer":
        return str(int(value))
    return str(value)


def csv_digest(path: Path, key: str) -> str:
    """``rows=N keys=<sha256 of the sorted key values>``: what a right CSV file must match."""
    import pandas as pd

    frame = pd.read_csv(path, sep=None, engine="python", dtype=str)
    columns = key.split(",")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        return f"no column {','.join(missing)}"
    keys = sorted("|".join(str(v).strip() for v in row) for row in frame[columns].to_numpy())
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    return f"rows={len(frame)} keys={digest}"


@contextmanager
def data_workdir() -> Iterator[Path]:
    """A temporary working directory holding copies of the data files (references write
    their files there)."""
    before = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="quality-data-") as tmp:
        for path in DATA_DIR.iterdir():
            if path.suffix in (".csv", ".tsv"):
                shutil.copy(path, tmp)
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(before)


def compute_expected(q: Question, workdir: Path) -> dict[str, str]:
    """Run the reference in ``workdir`` (see ``data_workdir``): the stored answer strings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = q.reference()
    plt.close("all")
    expected = {}
    for answer in q.answers:
        if answer.kind == "csv":
            expected[answer.name] = csv_digest(workdir / answer.name, answer.key)
        elif answer.kind == "png":
            expected[answer.name] = "png" if (workdir / answer.name).is_file() else "missing"
        else:
            expected[answer.name] = format_value(answer, values[answer.name])
    return expected


def load_expected() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(EXPECTED_FILE.read_text())
    return data


def reference_script(q: Question) -> str:
    """The reference as a standalone script printing every value as ``@name[value]``."""
    source = inspect.getsource(q.reference)
    source = source[source.index("def ") :]  # without the @question(...) decorator
    tags = [a for a in q.answers if a.kind not in ("csv", "png")]
    lines = [
        "from typing import Any",
        "",
        "import matplotlib",
        'matplotlib.use("Agg")',
        "import numpy as np",
        "import pandas as pd",
        "",
        source,
        f"values = {q.reference.__name__}()",
    ]
    for a in tags:
        if a.kind == "number":
            shown = f"format(float(values[{a.name!r}]), '.{a.decimals}f')"
        elif a.kind == "integer":
            shown = f"int(values[{a.name!r}])"
        else:
            shown = f"values[{a.name!r}]"
        lines.append(f"print('@{a.name}[' + str({shown}) + ']')")
    return "\n".join(lines) + "\n"


def expected_answer_text(q: Question, expected: dict[str, str]) -> str:
    """A right final answer in the requested form, as the ``--reference`` fake gives it."""
    tags = [a for a in q.answers if a.kind not in ("csv", "png")]
    files = [a.name for a in q.answers if a.kind in ("csv", "png")]
    parts = []
    if files:
        parts.append(f"I saved {', '.join(files)}.")
    if q.form == "plain":
        parts.append(" ".join(f"The answer is {expected[a.name]}." for a in tags))
    else:
        parts.append(" ".join(f"@{a.name}[{expected[a.name]}]" for a in tags))
    return " ".join(p for p in parts if p)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-expected", action="store_true")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    # run as a script this module is __main__; the question modules register with the
    # importable _data_questions, so ask that one
    import _data_questions

    questions = _data_questions.all_questions()
    if args.write_expected:
        with data_workdir() as workdir:
            expected = {q.qid: compute_expected(q, workdir) for q in questions}
        EXPECTED_FILE.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
        print(f"{EXPECTED_FILE}: {len(expected)} questions")
    if args.list:
        expected = load_expected()
        for q in questions:
            print(f"{q.qid:28s} {q.category:14s} {q.difficulty:6s} {expected.get(q.qid)}")
        print(Counter(q.category for q in questions), Counter(q.difficulty for q in questions))


if __name__ == "__main__":
    main()
