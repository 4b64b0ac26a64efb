"""The pruning search's figures (task=prune_search, How Does Supernet Help finding v), over seeds per variant: how good
the pruned space is and how the supernet's pick compares with random search given the same evaluations. Read from each
run's `pruning_summary.json`; variants without one are left out, runs with a damaged one are named."""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from benchmark import statistics
from benchmark.records import PRUNING_SUMMARY
from benchmark.report.runs import Run

#: (column, what it is, path into pruning_summary.json's "final" node)
COLUMNS = (
    ("pick_true_rank", "supernet's pick, true rank", ("pick_true_rank",)),
    ("pick_regret", "its regret", ("pick_regret",)),
    ("random_child_rank", "random child of the space, expected true rank", ("random_child_of_space", "true_rank")),
    ("random_kept_rank", "random kept child, expected true rank", ("random_child_of_kept", "true_rank")),
    ("best_kept_rank", "best kept child, true rank (all kept evaluated)", ("best_kept_true_rank",)),
    ("random_same_rank", "random search, as many evaluations, expected true rank",
     ("random_search_same_evaluations", "true_rank")),
    ("true_best_kept", "runs keeping the true best", ("true_best_kept",)),
    ("top10_kept", "share of the true top 10 % kept", ("top10_kept",)),
    ("kept", "children kept", ("kept",)),
)


def _final(run: Run) -> dict[str, float] | None:
    file = run.path / PRUNING_SUMMARY
    if not file.exists():
        return None
    final = json.loads(file.read_text())["final"]
    values = {}
    for column, _, path in COLUMNS:
        node: Any = final
        for key in path:
            node = node[key]
        values[column] = float(node)
    return values


def pruning_rows(by_variant: dict[str, list[Run]]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """One row per variant whose runs pruned: each figure's mean over seeds with a 95% bootstrap interval
    (`_low/_high`); and the runs whose summary could not be read, with why."""
    rows, damaged = [], []
    for variant, runs in by_variant.items():
        finals = []
        for run in runs:
            try:
                final = _final(run)
            except (OSError, ValueError, KeyError, TypeError) as e:
                damaged.append((str(run.path), f"{PRUNING_SUMMARY} unreadable ({type(e).__name__}: {e})"))
                continue
            if final is not None:
                finals.append(final)
        if not finals:
            continue
        row: dict[str, Any] = {"variant": variant, "runs": len(finals)}
        for column, _, _ in COLUMNS:
            values = [f[column] for f in finals]
            row[column] = float(np.mean(values))
            interval = statistics.mean_interval(values)
            row[f"{column}_low"], row[f"{column}_high"] = interval if interval else (None, None)
        rows.append(row)
    return rows, damaged


def _cell(row: dict[str, Any], column: str) -> str:
    digits = 4 if column == "pick_regret" else 2 if column in ("true_best_kept", "top10_kept") else 1
    text = f"{row[column]:.{digits}f}"
    if row.get(f"{column}_low") is not None:
        text += f" [{row[f'{column}_low']:.{digits}f}, {row[f'{column}_high']:.{digits}f}]"
    return text


def pruning_section(rows: list[dict[str, Any]]) -> str:
    """The report's "Pruning search" section ('' without pruning runs)."""
    if not rows:
        return ""
    lines = ["## Pruning search", "",
             "Each run pruned the worst children by the supernet's ranking and went on training the kept ones "
             "(`task=prune_search`). True ranks are among all children (1 = the true best); random search is exact "
             "(the expectation over every draw, not a sample). The unpruned supernet with the same steps is the "
             "`task=search` variant of the main table, tested pair by pair with `--baseline`.", "",
             "| variant | runs | " + " | ".join(what for _, what, _ in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append(f"| {row['variant']} | {row['runs']} | " + " | ".join(_cell(row, c) for c, _, _ in COLUMNS) + " |")
    return "\n".join(lines) + "\n"
