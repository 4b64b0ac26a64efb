"""Dense snapshots: rankings after each of a run's last mini-batches (`callbacks.ranking.dense_steps`).

Deeper Insights measures how much the ranking moves from one mini-batch to the next: GT-Tau-Mean-k / Std-k over the
last k mini-batches (Table 3, k = 64), and whether the child trained last jumps to the top. `rankings_dense.csv` holds
one row per (step, child): epoch, step, child, val_acc, val_loss, rank, since_trained (steps since the child was last
trained, 0 = at this step; empty = not yet). This module reads it, checks it, and computes both figures; the report
puts them beside the epoch-level ones.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchmark import metrics, statistics
from benchmark.records import DENSE

#: The lags (steps since a child was trained) the recency table shows.
LAGS = 5


def read(file: Path, n: int) -> tuple[dict[int, dict[str, float]], dict[int, dict[str, int]]]:
    """step -> child -> accuracy (in rank order) and step -> child -> steps since trained; a ValueError names a
    malformed line or a step that does not rank each of the `n` children exactly once."""
    steps: dict[int, list[tuple[int, str, float]]] = {}
    since: dict[int, dict[str, int]] = {}
    with open(file, newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                if None in row:
                    raise ValueError
                step, rank, acc = int(row["step"]), int(row["rank"]), float(row["val_acc"])
                lag = int(row["since_trained"]) if row.get("since_trained") else None
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"{DENSE} line {line} is malformed (truncated file?): {row}") from None
            if not np.isfinite(acc):
                raise ValueError(f"{DENSE} line {line} holds a non-finite accuracy")
            steps.setdefault(step, []).append((rank, row["child"], acc))
            if lag is not None:
                since.setdefault(step, {})[row["child"]] = lag
    for step, ranked in steps.items():
        if sorted(r for r, _, _ in ranked) != list(range(1, n + 1)) or len({c for _, c, _ in ranked}) != n:
            raise ValueError(f"{DENSE} step {step} does not rank the {n} children once each with ranks 1..{n}")
    return {s: {c: a for _, c, a in sorted(ranked)} for s, ranked in sorted(steps.items())}, since


def gt_tau_last_k(steps: dict[int, dict[str, float]], truth: dict[str, float], k: int) -> dict[str, float]:
    """GT-Tau-Mean-k / Std-k: Kendall tau against the truth after each of the last k steps (fewer if fewer)."""
    return metrics.last_k_stats([metrics.kendall_tau(steps[s], truth) for s in sorted(steps)], k)


def recency(runs: Sequence[tuple[dict[int, dict[str, float]], dict[int, dict[str, int]]]],
            lags: int = LAGS) -> list[dict[str, Any]]:
    """For each lag s < `lags`: where the children trained s steps before a snapshot rank in it (mean rank, share
    ranked first, share in the top 5), with what chance gives. Each figure is the mean of the runs' own figures with
    its bootstrap interval over runs (`<figure>_low` / `_high`, as in summary.csv): a run's snapshots follow one
    another and share its weights, so they are not independent draws, while the runs are."""
    per_run: dict[int, list[list[int]]] = {s: [] for s in range(lags)}
    n = 0
    for steps, since in runs:
        ranks: dict[int, list[int]] = {s: [] for s in range(lags)}
        for step, table in steps.items():
            n = len(table)
            order = {c: i for i, c in enumerate(table, start=1)}
            for child, lag in since.get(step, {}).items():
                if lag < lags:
                    ranks[lag].append(order[child])
        for s, r in ranks.items():
            if r:
                per_run[s].append(r)
    rows = []
    for s, run_ranks in per_run.items():
        if not run_ranks:
            continue
        row: dict[str, Any] = {"since_trained": s, "runs": len(run_ranks), "snapshots": sum(map(len, run_ranks)),
                               "chance_rank": (n + 1) / 2, "chance_first": 1 / n, "chance_top5": min(5, n) / n}
        for key, value in (("mean_rank", lambda r: float(np.mean(r))),
                           ("first", lambda r: float(np.mean([x == 1 for x in r]))),
                           ("top5", lambda r: float(np.mean([x <= 5 for x in r])))):
            values = [value(r) for r in run_ranks]
            row[key] = float(np.mean(values))
            if (interval := statistics.mean_interval(values)) is not None:
                row[f"{key}_low"], row[f"{key}_high"] = interval
        rows.append(row)
    return rows
