"""The input files' description (describe_files.py), run as the sandbox runs it: a script in
the work dir, with this interpreter (which has pandas, as the sandbox image does)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent_streams_assistant import describe_files


def describe(tmp_path: Path, names: list[str], budget: int = 1800, task: str = "") -> str:
    script = tmp_path / "describe.py"
    script.write_text(describe_files.script(names, budget, task))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_a_long_table_says_so_and_how_to_pivot_it(tmp_path: Path) -> None:
    rows = ["symbol,date,price"] + [
        f"{symbol},01/{day:02}/2020,{price}"
        for day in range(1, 15)
        for symbol, price in (("AAPL", 10 + day), ("MSFT", 20 + day))
    ]
    (tmp_path / "prices.csv").write_text("\n".join(rows) + "\n")
    lines = describe(tmp_path, ["prices.csv"]).splitlines()
    assert lines[0].endswith("comma-separated, 28 rows x 3 columns), columns:")
    assert "- symbol: text, e.g. 'AAPL', 'MSFT'" in lines
    assert (
        "- date: text dates (format '%m/%d/%Y', e.g. '01/01/2020'), 2020-01-01 to 2020-01-14; "
        "as text they compare and sort wrongly: pd.to_datetime(df['date'], format='%m/%d/%Y') "
        "first" in (lines)
    )
    assert (
        "long table: one row per symbol and date (2 symbol values); one column per symbol: "
        "df.pivot(index='date', columns='symbol', values='price')"
    ) in lines


def test_a_wide_table_is_not_called_long(tmp_path: Path) -> None:
    rows = ["date,a,b"] + [f"2020-01-{day:02},{day},{day * 2}" for day in range(1, 21)]
    (tmp_path / "wide.csv").write_text("\n".join(rows) + "\n")
    text = describe(tmp_path, ["wide.csv"])
    assert "long table" not in text
    assert "- a: int64, 1 to 20" in text


def test_the_budget_drops_first_rows_before_columns(tmp_path: Path) -> None:
    header = ",".join(f"column_{i}" for i in range(20))
    rows = [header] + [",".join(str(i * j) for i in range(20)) for j in range(5)]
    (tmp_path / "many.csv").write_text("\n".join(rows) + "\n")
    text = describe(tmp_path, ["many.csv"], budget=900)
    assert "first rows:" not in text
    assert "- column_0: int64" in text


def test_values_the_task_names_are_tied_to_their_column_as_the_data_spells_them(
    tmp_path: Path,
) -> None:
    rows = ["region,city,sales"] + [
        f"{region},{city},{i}"
        for i, (region, city) in enumerate(
            [("North", "New York"), ("South", "Miami"), ("West", "Los Angeles"), ("East", "Boston")]
            * 3
        )
    ]
    (tmp_path / "sales.csv").write_text("\n".join(rows) + "\n")
    task = "Total sales of the north region, and of new york? Use sales.csv."
    lines = describe(tmp_path, ["sales.csv"], task=task).splitlines()
    assert "values of 'region' the task names (spelled as in the data, of 4 distinct): 'North'" in (
        lines
    )
    assert (
        "values of 'city' the task names (spelled as in the data, of 4 distinct): 'New York'"
        in (lines)
    )
    # a task that names no value of a column gets no such line
    other = describe(tmp_path, ["sales.csv"], task="Sum sales per region in sales.csv.")
    assert "the task names" not in other
