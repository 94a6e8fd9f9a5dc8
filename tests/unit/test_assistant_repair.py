"""Repair: error explanations and script fingerprints (agent_streams_assistant.repair)."""

from __future__ import annotations

import pytest

from agent_streams.messages import CodeBlockSpec
from agent_streams_assistant.repair import explain, fingerprint


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("KeyError: 'AAPL'", "KeyError 'AAPL': there is no column or key of that name"),
        ("KeyError: -1", "use .iloc[-1] for a position"),
        ("ModuleNotFoundError: No module named 'xgboost'", "'xgboost' is not installed"),
        ("FileNotFoundError: [Errno 2] No such file or directory: 'x.csv'", "not in the current"),
        ("NameError: name 'pd' is not defined", "'pd' is used before it is defined"),
        ("SyntaxError: invalid syntax", "not valid Python"),
        (
            'ValueError: time data "27/08/2019" doesn\'t match format "%m/%d/%Y", at position 1.',
            "format the file description above shows",
        ),
        ("ValueError: could not convert string to float: '1,234.5'", "holds text where numbers"),
        (
            "ValueError: could not convert string to float: 'male'",
            "the text value 'male' is a category, not a number: encode",
        ),
        ("ValueError: Input X contains NaN.", "missing values"),
        ("AttributeError: 'DataFrame' object has no attribute 'price'", "a DataFrame has no"),
        ("IndexError: single positional indexer is out-of-bounds", "selection is probably empty"),
    ],
)
def test_common_errors_are_explained(error: str, says: str) -> None:
    hint = explain(error)
    assert hint is not None
    assert says in hint


def test_an_unknown_error_gets_no_explanation() -> None:
    assert explain("RuntimeError: something specific") is None


def test_fingerprint_ignores_blank_lines_and_trailing_spaces_not_code() -> None:
    one = [CodeBlockSpec(code="import pandas as pd\n\nprint(1)\n")]
    same = [CodeBlockSpec(code="\nimport pandas as pd   \nprint(1)")]
    other = [CodeBlockSpec(code="import pandas as pd\nprint(2)")]
    bash = [CodeBlockSpec(code="import pandas as pd\nprint(1)", language="bash")]
    assert fingerprint(one) == fingerprint(same)
    assert fingerprint(one) != fingerprint(other)
    assert fingerprint(one) != fingerprint(bash)
