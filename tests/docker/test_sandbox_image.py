"""The sandbox image as a data-science user needs it: scikit-learn, statsmodels, Excel and
Parquet readers; a missing module answered with what is installed; the input-files description
script (the Assistant's turn 0) runs there with pandas."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from agent_streams import CancellationToken
from agent_streams_assistant import describe_files
from agent_streams_executor.executors.base import CodeBlock
from agent_streams_executor.executors.pool import ExecutorPool

MakePool = Callable[..., Awaitable[ExecutorPool]]

pytestmark = pytest.mark.docker

FIT = """
import numpy as np, pandas as pd, statsmodels.api as sm
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
rng = np.random.default_rng(0)
x = rng.normal(size=(200, 2))
y = (x[:, 0] + x[:, 1] > 0).astype(int)
a, b, ya, yb = train_test_split(x, y, test_size=0.25, random_state=1)
print("accuracy", LogisticRegression().fit(a, ya).score(b, yb) > 0.9)
print("ols", round(sm.OLS(x[:, 0] * 2.0, sm.add_constant(x[:, 0])).fit().params[1], 3))
pd.DataFrame({"a": [1, 2]}).to_excel("t.xlsx", index=False)
pd.DataFrame({"a": [1, 2]}).to_parquet("t.parquet")
print("excel", pd.read_excel("t.xlsx")["a"].sum())
print("parquet", pd.read_parquet("t.parquet")["a"].sum())
"""


async def test_the_data_science_stack_is_there(make_pool: MakePool) -> None:
    pool = await make_pool("docker")
    session = await pool.executor("ds")
    result = await session.execute_code_blocks([CodeBlock(FIT, "python")], CancellationToken())
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["accuracy", "True", "ols", "2.0", "excel", "3", "parquet", "3"]


async def test_a_missing_module_names_the_installed_ones(make_pool: MakePool) -> None:
    pool = await make_pool("docker")
    session = await pool.executor("missing")
    block = CodeBlock("import xgboost", "python")
    result = await session.execute_code_blocks([block], CancellationToken())
    assert result.exit_code == 1
    (note,) = [n for n in result.notes if "xgboost" in n]
    installed = note.split("Use what is installed (import names): ")[1].split(", ")
    for name in ("numpy", "pandas", "matplotlib", "scipy", "seaborn", "statsmodels"):
        assert name in installed
    assert "sklearn (scikit-learn)" in installed


async def test_the_input_files_description_runs_in_the_sandbox(make_pool: MakePool) -> None:
    pool = await make_pool("docker")
    session = await pool.executor("describe")
    make = CodeBlock(
        "import pandas as pd\n"
        "n = 20\n"
        "pd.DataFrame({'city': ['Oslo', 'Rome'] * 9 + ['Oslo', None],"
        " 'temp': [1.5 + i for i in range(n)],"
        " 'day': [f'{d:02}/03/2024' for d in range(1, n + 1)]})"
        ".to_csv('w.csv', sep=';', index=False)\n"
        "open('notes.txt', 'w').write('hello\\nworld\\n')\n",
        "python",
    )
    assert (await session.execute_code_blocks([make], CancellationToken())).exit_code == 0
    script = describe_files.script(["w.csv", "notes.txt", "absent.csv"], 1800)
    result = await session.execute_code_blocks([CodeBlock(script, "python")], CancellationToken())
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("w.csv (")
    assert lines[0].endswith("bytes, semicolon-separated, 20 rows x 3 columns), columns:")
    assert "- city: text, e.g. 'Oslo', 'Rome', 1 missing" in lines
    assert "- temp: float64, 1.5 to 20.5" in lines
    # day first: 13/03/2024 and later cannot be month first
    assert (
        "- day: text dates (format '%d/%m/%Y', e.g. '01/03/2024'), 2024-03-01 to 2024-03-20; "
        "as text they compare and sort wrongly: pd.to_datetime(df['day'], format='%d/%m/%Y') "
        "first"
    ) in lines
    assert "notes.txt (12 bytes), text, first lines:" in lines
    assert "absent.csv: not found in the current directory" in lines
    assert not result.files  # describing makes no artifact
