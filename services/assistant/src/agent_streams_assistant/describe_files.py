"""The script that describes a task's input files to the model, run in the sandbox as turn 0.

A model that reads a CSV blind guesses its columns and its shape (``df['AAPL']`` on a long
table with a ``symbol`` column), and with a plain question it has nothing else to go on. So
before the first model turn the Assistant has the executor run this script over the input
files, in the session's own sandbox (untrusted files are parsed where untrusted code runs; the
sandbox is warm for turn 1 afterwards), and puts what it prints under the task.

This file is that script: standard library, plus pandas when the interpreter has it (the
sandbox does; a bare local interpreter gets the stdlib description). ``script()`` returns its
source with a call to ``main`` for the given files appended. What it prints, per file:

* tabular files (CSV/TSV/other delimited text, JSON/JSON lines, Parquet, Excel): rows x
  columns, each column's type with its range or a few distinct values and its missing count,
  and the first rows;
* other text files: the first lines; anything else: name, size and type.

The whole description is held to ``budget`` characters (shared between the files), so that it
fits a 4k-token context beside the task and a few turns.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

TABULAR_TEXT = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None, ".dat": None}
MAX_COLUMNS = 24
HEAD_ROWS = 3
CELL_CHARS = 24
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%b %d %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%Y-%m",
)


def script(names: list[str], budget: int, task: str = "") -> str:
    """This module's source, ending in a call that describes ``names`` within ``budget``;
    ``task`` (the prompt) lets the description say which of its words are values in a column."""
    body = Path(__file__).read_text(encoding="utf-8")
    return f"{body}\n\nmain({json.dumps(names)}, {budget}, {json.dumps(task)})\n"


def main(names: list[str], budget: int, task: str = "") -> None:
    share = max(300, budget // max(1, len(names)))
    words = _words(task)
    parts = [_clip(describe(name, words), share) for name in names]
    print("\n".join(parts))


def _words(task: str) -> set[str]:
    """The task's words and two-word phrases, lower-cased: what a column's values are matched
    against (a task says "AAPL vs MSFT", "women", "the North region", "New York")."""
    import re

    tokens = re.findall(r"[A-Za-z0-9][A-Za-z0-9_.&'-]*", task)
    tokens = [t.strip(".'-").lower() for t in tokens]
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
    return {t for t in tokens + pairs if t}


def describe(name: str, words: set[str] | None = None) -> str:
    path = Path(name)
    if not path.is_file():
        return f"{name}: not found in the current directory"
    size = path.stat().st_size
    suffix = path.suffix.lower()
    head = f"{name} ({_size(size)}"
    try:
        if suffix in TABULAR_TEXT or suffix in {".json", ".jsonl", ".ndjson"}:
            table = _text_table(path, suffix, words or set())
            if table is not None:
                return f"{head}, {table}"
        if suffix in {".parquet", ".pq", ".xlsx", ".xlsm", ".xls"}:
            return f"{head}, {_binary_table(path, suffix, words or set())}"
    except Exception as exc:  # a file the model must still hear about, with why it is opaque
        return f"{head}): could not be read as a table: {type(exc).__name__}: {exc}"
    return head + ")" + _text_head(path)


def _text_table(path: Path, suffix: str, words: set[str]) -> str | None:
    sample = path.read_bytes()[:65536].decode("utf-8", errors="replace")
    if suffix in {".json", ".jsonl", ".ndjson"}:
        per_line = suffix != ".json" or sample.lstrip().startswith("{")
        frame = _pandas_read(path, "json", lines=per_line)
        kind = "JSON lines" if per_line else "JSON"
        return None if frame is None else _frame(frame, kind, words)
    try:
        sep = csv.Sniffer().sniff(sample[:8192], ",;\t|").delimiter
    except csv.Error:
        default = TABULAR_TEXT[suffix]
        if default is None:
            return None  # prose, not a table
        sep = default
    kind = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(sep, repr(sep))
    frame = _pandas_read(path, "csv", sep=sep)
    if frame is not None:
        return _frame(frame, f"{kind}-separated", words)
    text = path.read_text(encoding="utf-8", errors="replace")
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    if not rows:
        return f"{kind}-separated, empty"
    header, body = rows[0], rows[1:]
    lines = [f"{kind}-separated, {len(body)} rows x {len(header)} columns): {', '.join(header)}"]
    lines += ["first rows:", *(sep.join(r) for r in rows[: HEAD_ROWS + 1])]
    return "\n".join(lines)


def _binary_table(path: Path, suffix: str, words: set[str]) -> str:
    if suffix in {".parquet", ".pq"}:
        frame = _pandas_read(path, "parquet")
        return "Parquet): no reader here" if frame is None else _frame(frame, "Parquet", words)
    import pandas as pd

    sheets = pd.read_excel(path, sheet_name=None)
    first, frame = next(iter(sheets.items()))
    names = ", ".join(repr(s) for s in sheets)
    return _frame(frame, f"Excel, sheets {names}; sheet {first!r}", words)


def _pandas_read(path: Path, kind: str, **options: Any) -> Any:
    try:
        import pandas as pd
    except ImportError:
        return None
    reader = {"csv": pd.read_csv, "json": pd.read_json, "parquet": pd.read_parquet}[kind]
    return reader(path, **options)


def _frame(frame: Any, kind: str, words: AbstractSet[str] = frozenset()) -> str:
    rows, columns = frame.shape
    lines = [f"{kind}, {rows} rows x {columns} columns), columns:"]
    for column in list(frame.columns)[:MAX_COLUMNS]:
        lines.append(f"- {column}: {_column(frame[column], column)}")
    if columns > MAX_COLUMNS:
        lines.append(f"- ... {columns - MAX_COLUMNS} more columns")
    if (shape := _long_shape(frame)) is not None:
        lines.append(shape)
    lines += _named_values(frame, words)
    head = frame.head(HEAD_ROWS).to_csv(index=False).strip().splitlines()
    lines += ["first rows:", *(_cells(line) for line in head)]
    return "\n".join(lines)


def _long_shape(frame: Any) -> str | None:
    """For a long table (one row per category and date, e.g. symbol x month): say so, and how
    to get one column per category. A model that misses it plots every symbol as one line."""
    import pandas as pd

    if len(frame) < 4:
        return None
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    dates = [c for c in frame.columns if _is_dates(frame[c])]
    for group in frame.columns:
        values = frame[group]
        if group in dates or pd.api.types.is_numeric_dtype(values):
            continue
        if not 2 <= values.nunique() <= 50:
            continue
        for when in dates:
            if frame.duplicated([when]).any() and not frame.duplicated([group, when]).any():
                value = next((c for c in numeric if c not in (group, when)), None)
                pivot = (
                    f"; one column per {group}: df.pivot(index='{when}', columns='{group}', "
                    f"values='{value}')"
                    if value is not None
                    else ""
                )
                return (
                    f"long table: one row per {group} and {when} "
                    f"({values.nunique()} {group} values){pivot}"
                )
    return None


def _named_values(frame: Any, words: AbstractSet[str]) -> list[str]:
    """A line per text column holding values the task names, spelled as the data spells them:
    a model told "AAPL vs MSFT" or "female passengers" must filter on that column (and only
    on those values), and "north" must become 'North'."""
    import pandas as pd

    lines = []
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        distinct = series.dropna().astype(str).unique()
        if not 1 < len(distinct) <= 200:
            continue
        named = [v for v in distinct if v.strip().lower() in words and not v.strip().isdigit()]
        if named and len(named) < len(distinct):
            shown = ", ".join(repr(_cut(v)) for v in sorted(named)[:8])
            lines.append(
                f"values of {column!r} the task names (spelled as in the data, "
                f"of {len(distinct)} distinct): {shown}"
            )
    return lines


def _is_dates(series: Any) -> bool:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    text = series.dropna().astype(str)
    return text.nunique() > 12 and (_date_format(text) is not None or _looks_like_dates(text))


def _column(series: Any, name: Any = "column") -> str:
    import pandas as pd

    missing = int(series.isna().sum())
    note = f", {missing} missing" if missing else ""
    values = series.dropna()
    if pd.api.types.is_bool_dtype(series):
        return f"bool{note}"
    if pd.api.types.is_numeric_dtype(series):
        if values.empty:
            return f"{series.dtype}, all missing"
        return f"{series.dtype}, {_num(values.min())} to {_num(values.max())}{note}"
    if pd.api.types.is_datetime64_any_dtype(series):
        return f"datetime, {values.min()} to {values.max()}{note}"
    text = values.astype(str)
    distinct = text.nunique()
    shape = _date_format(text) if distinct > 12 else None
    if shape is not None or (distinct > 12 and _looks_like_dates(text)):
        dates = pd.to_datetime(text, errors="coerce", format=shape)
        how = f"format '{shape}', e.g. '{_cut(text.iloc[0])}'" if shape else "mixed formats"
        fmt = f", format='{shape}'" if shape else ""
        return (
            f"text dates ({how}), {dates.min().date()} to {dates.max().date()}{note}; as text "
            f"they compare and sort wrongly: pd.to_datetime(df[{name!r}]{fmt}) first"
        )
    examples = ", ".join(repr(_cut(v)) for v in text.value_counts().index[:4])
    more = f" ({distinct} distinct)" if distinct > 4 else ""
    return f"text, e.g. {examples}{more}{note}"


def _date_format(text: Any) -> str | None:
    """The one strptime format every value parses with (from the usual ones), else None: a
    model reading '03/04/2019' cannot tell day-first from month-first."""
    import pandas as pd

    if not text.head(20).str.contains(r"\d").all():
        return None
    for shape in DATE_FORMATS:
        if pd.to_datetime(text, format=shape, errors="coerce").notna().all():
            return shape
    return None


def _looks_like_dates(text: Any) -> bool:
    import warnings

    import pandas as pd

    sample = text.head(20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce")
    return bool(parsed.notna().mean() > 0.9) and bool(sample.str.contains(r"\d").all())


def _text_head(path: Path) -> str:
    data = path.read_bytes()[:4096]
    if b"\x00" in data:
        return ", binary"
    lines = data.decode("utf-8", errors="replace").splitlines()[:5]
    return ", text, first lines:\n" + "\n".join(_cut(line, 160) for line in lines)


def _cells(line: str) -> str:
    return ",".join(_cut(cell) for cell in line.split(","))


def _cut(value: object, width: int = CELL_CHARS) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _num(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:.4g}"


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    scaled, unit = size / 1024, "KB"
    for bigger in ("MB", "GB"):
        if scaled < 1024:
            break
        scaled, unit = scaled / 1024, bigger
    return f"{scaled:.1f} {unit}"


def _clip(text: str, limit: int) -> str:
    """``text`` within ``limit``: the first rows go first (the columns matter more)."""
    if len(text) > limit and "\nfirst rows:" in text:
        text = text.split("\nfirst rows:", 1)[0]
    if len(text) <= limit:
        return text
    return text[: limit - 40].rsplit("\n", 1)[0] + "\n... (description cut)"
