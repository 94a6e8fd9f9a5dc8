"""The quality bench's data questions (bench/_data_questions.py) and answer checker
(bench/_answer_check.py), without Docker or a model: the committed data is what the generator
makes, every stored expected answer is what the reference solution computes from it, and the
checker accepts right answers and rejects wrong, mis-formatted and missing ones.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from _answer_check import check_answer, parse_number  # noqa: E402
from _data_questions import (  # noqa: E402
    CATEGORIES,
    DATA_DIR,
    Question,
    all_questions,
    compute_expected,
    data_workdir,
    expected_answer_text,
    load_expected,
    reference_script,
)
from _quality_data import build  # noqa: E402

QUESTIONS = {q.qid: q for q in all_questions()}
EXPECTED = load_expected()


# -- the data and the expected answers --------------------------------------------------------
def test_generator_reproduces_the_committed_files_byte_for_byte() -> None:
    built = build()
    committed = {p.name for p in DATA_DIR.iterdir() if p.suffix in (".csv", ".tsv")}
    assert set(built) == committed
    for name, data in built.items():
        assert (DATA_DIR / name).read_bytes() == data, f"{name} differs from the generator's"


@pytest.mark.parametrize("qid", sorted(QUESTIONS))
def test_reference_recomputes_the_stored_answer(qid: str) -> None:
    with data_workdir() as workdir:
        assert compute_expected(QUESTIONS[qid], workdir) == EXPECTED[qid]


def test_the_set_covers_every_category_with_enough_questions() -> None:
    assert len(QUESTIONS) >= 40
    per_category = Counter(q.category for q in QUESTIONS.values())
    assert set(per_category) == set(CATEGORIES)
    assert min(per_category.values()) >= 4
    assert set(Counter(q.difficulty for q in QUESTIONS.values())) == {"easy", "medium", "hard"}
    assert set(EXPECTED) == set(QUESTIONS)


@pytest.mark.parametrize("qid", sorted(QUESTIONS))
def test_every_prompt_names_its_inputs_and_answer_format(qid: str) -> None:
    q = QUESTIONS[qid]
    for name in q.files:
        assert name in q.prompt
    for answer in q.answers:
        if answer.kind in ("csv", "png"):
            assert answer.name in q.prompt
        elif q.form == "tags":
            assert f"@{answer.name}[" in q.prompt
    assert set(EXPECTED[qid]) == {a.name for a in q.answers}


@pytest.mark.parametrize(
    "qid", ["orders_big_orders", "passengers_ports_plot", "housing_ols", "employees_hires"]
)
def test_reference_script_runs_alone_and_prints_the_answer(qid: str) -> None:
    """What --reference sends to the sandbox: standalone, printing every @name[value]."""
    q = QUESTIONS[qid]
    with data_workdir() as workdir:
        (workdir / "reference.py").write_text(reference_script(q))
        run = subprocess.run(
            [sys.executable, "reference.py"], capture_output=True, text=True, cwd=workdir
        )
        assert run.returncode == 0, run.stderr
        made = {a.name for a in q.answers if a.kind in ("csv", "png")}
        assert made <= {p.name for p in workdir.iterdir()}
    verdict = check_answer(q, EXPECTED[qid], expected_answer_text(q, EXPECTED[qid]), {}, [])
    assert verdict.kinds == ["no_file"] * len(made)  # the files are in workdir, not returned
    assert check_answer(q, EXPECTED[qid], "", {}, [run.stdout]).computed


# -- the checker ------------------------------------------------------------------------------
def _check(qid: str, answer: str, outputs: tuple[str, ...] = ()) -> list[str]:
    return check_answer(QUESTIONS[qid], EXPECTED[qid], answer, {}, list(outputs)).kinds


def test_right_answers_pass_with_or_without_text_around_them() -> None:
    assert EXPECTED["passengers_mean_fare_c"] == {"mean_fare_c": "29.99"}
    assert _check("passengers_mean_fare_c", "@mean_fare_c[29.99]") == []
    assert (
        _check(
            "passengers_mean_fare_c",
            "The mean fare at port C is 29.99.\n\n@mean_fare_c[29.99]\n\nLet me know!",
        )
        == []
    )
    assert _check("passengers_mean_fare_c", "@MEAN_FARE_C[ 29.99 ]") == []


def test_numbers_may_differ_by_one_unit_in_the_last_requested_decimal() -> None:
    assert _check("passengers_mean_fare_c", "@mean_fare_c[29.98]") == []
    assert _check("passengers_mean_fare_c", "@mean_fare_c[29.985]") == []
    assert _check("passengers_mean_fare_c", "@mean_fare_c[29.97]") == ["wrong_value"]
    assert _check("passengers_mean_fare_c", "@mean_fare_c[30.1]") == ["wrong_value"]


def test_counts_are_exact_and_thousands_commas_and_percent_signs_are_read() -> None:
    assert EXPECTED["passengers_fill_age"]["missing_age"] == "139"
    fill = f"@mean_age_filled[{EXPECTED['passengers_fill_age']['mean_age_filled']}]"
    assert _check("passengers_fill_age", f"@missing_age[139] {fill}") == []
    assert _check("passengers_fill_age", f"@missing_age[140] {fill}") == ["wrong_value"]
    assert _check("orders_net_revenue", "@net_revenue[306,434.23]") == []
    survival = "@survival_first[73.9%] @survival_third[45.7 %]"
    assert _check("passengers_survival_by_class", survival) == []


def test_mis_formatted_missing_and_contradicting_answers_fail() -> None:
    assert _check("passengers_mean_fare_c", "@mean_fare_c[29.99 dollars]") == ["malformed"]
    assert _check("passengers_mean_fare_c", "The mean fare is 29.99.") == ["no_tag"]
    assert _check("passengers_mean_fare_c", "mean_fare_c[29.99]") == ["no_tag"]
    assert _check("passengers_mean_fare_c", "@mean_fare[29.99]") == ["no_tag"]
    assert _check("passengers_mean_fare_c", "@mean_fare_c[29.99] or @mean_fare_c[31.2]") == [
        "wrong_value"
    ]


def test_the_prompts_placeholder_said_back_is_no_answer() -> None:
    answer = "Format: @mean_fare_c[value]\n@mean_fare_c[29.99]"
    assert _check("passengers_mean_fare_c", answer) == []
    assert _check("passengers_mean_fare_c", "@mean_fare_c[value]") == ["no_tag"]


def test_every_sub_answer_must_be_right() -> None:
    assert EXPECTED["passengers_titles"] == {"female_title": "Miss", "doctors": "6"}
    assert _check("passengers_titles", "@female_title[miss] @doctors[6]") == []
    assert _check("passengers_titles", "@female_title['Miss'] @doctors[6]") == []
    assert _check("passengers_titles", "@female_title[Mrs] @doctors[6]") == ["wrong_value"]
    assert _check("passengers_titles", "@doctors[6]") == ["no_tag"]


def test_plain_answers_are_found_in_the_sentence() -> None:
    assert EXPECTED["passengers_third_survivors"] == {"third_survivors": "193"}
    assert _check("passengers_third_survivors", "193 third-class passengers survived.") == []
    assert _check("passengers_third_survivors", "192 of them survived.") == ["wrong_value"]
    assert _check("sensors_most_vibration", "Sensor S2 vibrates the most.") == []
    assert _check("sensors_most_vibration", "Sensor S1 vibrates the most.") == ["wrong_value"]
    assert _check("sensors_most_vibration", "Sensor S22 vibrates the most.") == ["wrong_value"]


def test_value_computed_but_lost_is_told_apart() -> None:
    q, expected = QUESTIONS["passengers_mean_fare_c"], EXPECTED["passengers_mean_fare_c"]
    lost = check_answer(q, expected, "@mean_fare_c[31.00]", {}, ["mean fare: 29.9854"])
    assert lost.kinds == ["wrong_value"]
    assert lost.computed_but_lost
    never = check_answer(q, expected, "@mean_fare_c[31.00]", {}, ["mean fare: 31.0"])
    assert not never.computed_but_lost
    right = check_answer(q, expected, "@mean_fare_c[29.99]", {}, ["29.9854"])
    assert right.computed
    assert not right.computed_but_lost


def test_csv_files_are_checked_by_their_rows(tmp_path: Path) -> None:
    import pandas as pd

    q, expected = QUESTIONS["orders_big_orders"], EXPECTED["orders_big_orders"]
    orders = pd.read_csv(DATA_DIR / "orders.csv")
    big = orders[orders["quantity"] * orders["unit_price"] > 1000]
    answer = f"@big_orders[{len(big)}]"
    right = tmp_path / "right" / "big_orders.csv"
    right.parent.mkdir()
    big[list(reversed(big.columns))].to_csv(right)  # any column order, an index column
    assert check_answer(q, expected, answer, {"big_orders.csv": right}, []).kinds == []
    wrong = tmp_path / "big_orders.csv"
    big.iloc[1:].to_csv(wrong, index=False)
    assert check_answer(q, expected, answer, {"big_orders.csv": wrong}, []).kinds == ["wrong_rows"]
    assert check_answer(q, expected, answer, {"orders.csv": wrong}, []).kinds == ["file_misnamed"]
    assert check_answer(q, expected, answer, {}, []).kinds == ["no_file"]


def test_png_files_must_not_be_blank(tmp_path: Path) -> None:
    from PIL import Image

    q, expected = QUESTIONS["passengers_ports_plot"], EXPECTED["passengers_ports_plot"]
    blank, drawn = tmp_path / "blank.png", tmp_path / "drawn.png"
    Image.new("RGB", (200, 100), "white").save(blank)
    image = Image.new("RGB", (200, 100), "white")
    image.paste((31, 119, 180), (20, 20, 60, 90))  # a bar in matplotlib's first colour
    image.save(drawn)
    answer = "@top_port[S]"
    assert check_answer(q, expected, answer, {"ports.png": drawn}, []).kinds == []
    assert check_answer(q, expected, answer, {"ports.png": blank}, []).kinds == ["png_blank"]


def test_parse_number_refuses_anything_but_a_number() -> None:
    assert parse_number(" 1,234.5 ") == 1234.5
    assert parse_number("**0.72**") == 0.72
    assert parse_number("\u22120.516") == -0.516
    assert parse_number("0.72 (72%)") is None
    assert parse_number("nan") is None
    assert parse_number("") is None


def test_questions_are_frozen_records() -> None:
    q = QUESTIONS["housing_ols"]
    assert isinstance(q, Question)
    assert q.paths() == (DATA_DIR / "housing.csv",)
