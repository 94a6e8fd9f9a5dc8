"""The quality bench's records and tables: per task (the basic set and the demo's target) and
per category (the data questions and their target), plus the JSON summary.

Words used in the tables: *exactly right* = no failure kind at all (every sub-answer, every
file); *success* = the task's own criteria (for the basic tasks, right apart from the plotted
values; for a data question, the task ended ``completed``); *lost* = "value computed but
lost" (``_answer_check``).
"""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _quality_tasks import VALUE_KINDS

TARGET_RUNS, TARGET_OF, TARGET_TURNS = 4, 5, 5
DATA_TARGET_RIGHT, DATA_TARGET_TURNS = 0.70, 3.0


@dataclass
class Run:
    task: str
    index: int
    status: str
    turns: int
    wall_s: float
    completion_tokens: int
    kinds: list[str]
    notes: list[str] = field(default_factory=list)
    category: str = "basic"
    difficulty: str = ""
    lost: bool = False
    failed_runs: int = 0
    """Executions of the model's code that failed (the input files' description aside)."""

    @property
    def ok(self) -> bool:
        """A success by the task's criteria (the values may still be wrong)."""
        if self.category != "basic":
            return self.status == "completed"
        return all(kind in VALUE_KINDS for kind in self.kinds)

    @property
    def correct(self) -> bool:
        return not self.kinds


def verdict(run: Run) -> str:
    if run.correct:
        return "correct"
    if run.category != "basic":
        return "WRONG " + ",".join(run.kinds) + (" (value computed but lost)" if run.lost else "")
    return ("ok, values wrong: " if run.ok else "FAIL ") + ",".join(run.kinds)


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def _kinds(runs: list[Run]) -> str:
    kinds = Counter(k for r in runs for k in r.kinds)
    return ", ".join(f"{k} x{c}" for k, c in kinds.most_common()) or "-"


def _row(label: str, mine: list[Run], width: int, lost: bool) -> str:
    n = len(mine)
    ok, correct = sum(r.ok for r in mine), sum(r.correct for r in mine)
    cells = [
        f"{label:{width}s}",
        f"{f'{correct}/{n}':>8s}",
        f"{f'{ok}/{n}':>8s}",
        f"{_median([r.turns for r in mine]):>9s}",
        f"{_median([r.wall_s for r in mine]):>10s}",
        f"{_median([r.completion_tokens for r in mine]):>10s}",
    ]
    if lost:
        cells.append(f"{sum(r.lost for r in mine):>5d}")
    return " ".join(cells) + "  " + _kinds(mine)


def _head(label: str, width: int, lost: bool) -> str:
    return (
        f"{label:{width}s} {'right':>8s} {'success':>8s} {'med turns':>9s} {'med wall s':>10s} "
        f"{'med tokens':>10s}" + (f" {'lost':>5s}" if lost else "") + "  failures by kind"
    )


def report_basic(runs: list[Run]) -> bool:
    """Per basic task, and the demo task against its target; True when it is met."""
    print(_head("task", 10, lost=False))
    for name in dict.fromkeys(r.task for r in runs):
        print(_row(name, [r for r in runs if r.task == name], 10, lost=False))
    demo = [r for r in runs if r.task == "demo"]
    if not demo:
        return True
    needed = TARGET_RUNS * len(demo) / TARGET_OF
    ok = sum(r.ok and r.turns <= TARGET_TURNS for r in demo)
    correct = sum(r.correct and r.turns <= TARGET_TURNS for r in demo)
    met = ok >= needed
    print(f"demo task within {TARGET_TURNS} turns: success {ok}/{len(demo)}, correct values "
          f"{correct}/{len(demo)}; target >= {TARGET_RUNS}/{TARGET_OF} successes: "
          f"{'MET' if met else 'MISSED'}"
          + ("" if correct >= needed else " (not met on correct values)"))  # fmt: skip
    return met


def report_data(runs: list[Run]) -> bool:
    """Per category and difficulty, overall, and the target; True when it is met."""
    print(_head("category", 14, lost=True))
    for category in sorted({r.category for r in runs}):
        print(_row(category, [r for r in runs if r.category == category], 14, lost=True))
    for difficulty in ("easy", "medium", "hard"):
        mine = [r for r in runs if r.difficulty == difficulty]
        if mine:
            print(_row(f"({difficulty})", mine, 14, lost=True))
    print(_row("all", runs, 14, lost=True))
    print(repair_line(runs))
    right = sum(r.correct for r in runs) / len(runs)
    turns = statistics.median(r.turns for r in runs)
    met = right >= DATA_TARGET_RIGHT and turns <= DATA_TARGET_TURNS
    print(f"data questions: {right:.0%} exactly right (target >= {DATA_TARGET_RIGHT:.0%}), "
          f"median {turns:.1f} turns (target <= {DATA_TARGET_TURNS:.0f}): "
          f"{'MET' if met else 'MISSED'}")  # fmt: skip
    wrong = sorted({r.task for r in runs if not r.correct})
    if wrong:
        print(f"not exactly right ({len(wrong)}): {', '.join(wrong)}")
    return met


def repair_line(runs: list[Run]) -> str:
    """The repair rate: of the runs with a failed execution, how many still ended right."""
    failed = [r for r in runs if r.failed_runs]
    if not failed:
        return "repair: no run had a failed execution"
    right, done = sum(r.correct for r in failed), sum(r.ok for r in failed)
    return (
        f"repair: {len(failed)} of {len(runs)} runs had a failed execution; "
        f"{right} of them ended exactly right ({right / len(failed):.0%}), {done} completed"
    )


def report(runs: list[Run], loads: list[float], header: str) -> bool:
    """Every table, the load, and the targets; True when every target that applies is met."""
    print(f"\n{header}")
    basic = [r for r in runs if r.category == "basic"]
    data = [r for r in runs if r.category != "basic"]
    met = True
    if basic:
        met = report_basic(basic) and met
    if data:
        if basic:
            print()
        met = report_data(data) and met
    if loads:
        print(f"load average (1 min) during the run: min {min(loads):.1f}, "
              f"median {statistics.median(loads):.1f}, max {max(loads):.1f} "
              f"on {os.cpu_count()} cores")  # fmt: skip
    return met


def write_summary(path: Path, runs: list[Run], header: str, met: bool) -> None:
    """The JSON summary: the header, the target verdict, per category and every run."""
    categories = {}
    for category in sorted({r.category for r in runs}):
        mine = [r for r in runs if r.category == category]
        categories[category] = {
            "runs": len(mine),
            "exactly_right": sum(r.correct for r in mine),
            "success": sum(r.ok for r in mine),
            "median_turns": statistics.median(r.turns for r in mine),
            "median_wall_s": statistics.median(r.wall_s for r in mine),
            "median_completion_tokens": statistics.median(r.completion_tokens for r in mine),
            "value_computed_but_lost": sum(r.lost for r in mine),
            "failures_by_kind": dict(Counter(k for r in mine for k in r.kinds)),
        }
    failed = [r for r in runs if r.failed_runs]
    summary = {
        "header": header,
        "targets_met": met,
        "repair": {
            "runs_with_a_failed_execution": len(failed),
            "of_them_exactly_right": sum(r.correct for r in failed),
            "of_them_completed": sum(r.ok for r in failed),
        },
        "categories": categories,
        "runs": [{**asdict(r), "correct": r.correct, "ok": r.ok} for r in runs],
    }
    path.write_text(json.dumps(summary, indent=2) + "\n")
