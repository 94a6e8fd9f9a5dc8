"""The answer's form: the task's requirements restated, requested forms kept in the answer."""

from __future__ import annotations

from agent_streams_assistant.answer_form import (
    agreed_answer,
    answered_forms,
    form_hint,
    keep_requested_forms,
    printed_forms,
    requested_files,
    requirements,
)

LONG_TASK = (
    "The file passengers.csv lists one passenger per row with the fare paid and the port of "
    "embarkation, along with many other columns that are not needed here at all. Consider only "
    "the passengers who embarked at port C and paid a fare. What is their average fare? "
    "Ignore rows with a missing fare. Round the result to two decimal places.\n"
    "Format: @mean_fare[value] where value is a number with two decimals."
)


def test_requirements_of_a_short_task_are_its_requirement_sentences() -> None:
    task = "Plot y = x^2 for x in 0..10. Save it as plot.png"
    assert requirements(task) == "Save it as plot.png"


def test_requirements_of_a_long_task_are_its_format_sentences() -> None:
    asked = requirements(LONG_TASK, ["passengers.csv"])
    assert asked.splitlines() == [
        "Round the result to two decimal places.",
        "Format: @mean_fare[value] where value is a number with two decimals.",
    ]


def test_a_task_without_any_requirement_sentence_has_none() -> None:
    assert requirements("Tell me something interesting about this data.") == ""


def test_requested_files_are_the_outputs_not_the_inputs() -> None:
    task = "Using stocks.csv, save the chart as chart.png and the table as out.csv"
    assert requested_files(task, ["stocks.csv"]) == ["chart.png", "out.csv"]


def test_printed_forms_are_found_in_order() -> None:
    assert printed_forms("x\n@a[1.50] @b[yes]\nnoise [2]\n", "") == ["@a[1.50]", "@b[yes]"]


def test_a_form_printed_with_its_placeholder_then_the_value_is_read_as_the_value() -> None:
    task = "Which port had the most passengers? Answer as @top_port[port code]."
    assert printed_forms("@top_port[port code] = S\n", task) == ["@top_port[S]"]
    assert answered_forms(task, "@top_port[port code]: S") == "@top_port[S]"
    assert printed_forms("@other[x] = S\n", task) == ["@other[x]"]  # not the task's placeholder


def test_the_form_hint_shows_how_to_print_the_tasks_form() -> None:
    hint = form_hint("Which port? Answer as @top_port[port code].")
    assert hint.endswith('e.g. print(f"@top_port[{value}]").')
    assert form_hint("Which port had the most passengers?") == ""


def test_a_paraphrased_answer_gets_the_printed_form_back() -> None:
    answer = "The mean fare of passengers from port C is 34.65."
    kept = keep_requested_forms(answer, LONG_TASK, ["@mean_fare[30.00]", "@mean_fare[34.65]"])
    assert kept == answer + "\n\n@mean_fare[34.65]"


def test_a_copied_placeholder_is_replaced_by_the_printed_value() -> None:
    kept = keep_requested_forms("@mean_fare[value]", LONG_TASK, ["@mean_fare[34.65]"])
    assert kept == "@mean_fare[34.65]"


def test_an_answer_with_its_own_value_is_left_alone() -> None:
    assert keep_requested_forms("@mean_fare[33.10]", LONG_TASK, ["@mean_fare[34.65]"]) == (
        "@mean_fare[33.10]"
    )


def test_nothing_changes_when_the_task_asks_for_no_form_or_nothing_was_printed() -> None:
    assert keep_requested_forms("42", "What is 6 x 7?", ["@x[1]"]) == "42"
    assert keep_requested_forms("about 34", LONG_TASK, []) == "about 34"


def test_a_run_that_printed_every_requested_form_answers_the_task() -> None:
    task = "Give the mean and the median. Format: @mean[value] @median[value]"
    assert answered_forms(task, "@median[2] and @mean[1.5]\n@mean[1.75]\n") == (
        "@mean[1.75]\n@median[2]"
    )
    assert answered_forms(task, "@mean[1.5]\n") is None  # the median is missing
    assert answered_forms(task, "@mean[value] @median[value]") is None  # placeholders
    assert answered_forms("What is the mean?", "@mean[1.5]") is None  # no form was asked for


def test_a_hard_wrapped_sentence_is_one_requirement() -> None:
    task = (
        "What percentage of first-class passengers survived, and what percentage of third-class\n"
        "passengers (pclass 1 and 3)? Percent with one decimal, e.g. 45.3.\n"
        "Reply as @survival_first[percent] @survival_third[percent]"
    )
    assert requirements(task).splitlines() == [
        "What percentage of first-class passengers survived, and what percentage of "
        "third-class passengers (pclass 1 and 3)?",
        "Percent with one decimal, e.g. 45.3.",
        "Reply as @survival_first[percent] @survival_third[percent]",
    ]


def test_agreed_answer_compares_values_and_numbers_as_numbers() -> None:
    assert agreed_answer(["@a[1] @b[x]"]) is None
    assert agreed_answer(["@a[2.0]", "@a[1.50]", "@a[1.5]"]) == "@a[1.50]"
    assert agreed_answer(["@t[Miss]", "@t[ miss ]"]) == "@t[Miss]"
    assert agreed_answer(["@a[1]\n@b[2]", "@a[1]\n@b[3]"]) is None
