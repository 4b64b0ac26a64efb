"""The p-values the experiment READMEs quote for our rows against a paper's table, and for a paper's rows
against each other.

A paper publishes a mean GT-Tau, its std and its number of instances, not the per-instance values, so the only test
they allow is Welch's unequal-variance t-test from those statistics (our sample std = the summary's population std x
sqrt(n / (n - 1))). It assumes normal per-seed values, which a handful of seeds cannot check: read its p-values as
rough. Two variants of ours with the same seeds get exact paired tests in their report instead (docs/report.md,
Uncertainty).

    python -m experiments.welch
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

from scipy import stats

HERE = Path(__file__).parent

#: (report folder, our variant, the paper's mean GT-Tau, its std, its instances): our rows against a paper's table.
AGAINST_PAPER = [
    ("variance/report", "sampler=round_robin", 0.46, 0.15, 10),  # Deeper Insights, Table 1, "different seeds"
]

#: (what, the paper's mean GT-Tau, std and instances of one row, the same of another): the paper's own differences,
#: tested as it published them, so that a README can say whether our "no difference" disagrees with the paper at all.
PAPER_PAIRS = [
    ("Deeper Insights, Table 1: shuffle every 64 steps vs different seeds (fixed order)",
     0.51, 0.07, 10, 0.46, 0.15, 10),
    ("Deeper Insights, Table 1: shuffle every 64 steps vs different orders (one shuffle)",
     0.51, 0.07, 10, 0.46, 0.10, 10),
]


def rows(report: str) -> dict[str, dict[str, str]]:
    with open(HERE / report / "summary.csv", newline="") as f:
        return {r["variant"]: r for r in csv.DictReader(f)}


def _stats(row: dict[str, str]) -> tuple[float, float, int]:
    """Mean GT-Tau, its sample std (the summary keeps the population std) and the number of seeds."""
    n = int(row["runs"])
    return float(row["gt_tau"]), float(row["gt_tau_std"]) * math.sqrt(n / (n - 1)), n


def welch_p(a: tuple[float, float, int], b: tuple[float, float, int]) -> float:
    """Two-sided Welch p-value of two means, each given as (mean, sample std, instances)."""
    return float(stats.ttest_ind_from_stats(*a, *b, equal_var=False).pvalue)


def against_paper(row: dict[str, str], mean: float, std: float, n: int) -> float:
    """Two-sided Welch p-value of our mean GT-Tau against a paper's mean, std and number of instances."""
    return welch_p(_stats(row), (mean, std, n))


def mean_interval(mean: float, std: float, n: int) -> tuple[float, float]:
    """95 % t-interval of a published mean: how well the paper itself knows it."""
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return mean - half, mean + half


def main() -> None:
    print("| report | ours | GT-Tau ours | GT-Tau paper | seeds / instances | Welch p |")
    print("|---|---|---|---|---|---|")
    for report, variant, mean, std, n in AGAINST_PAPER:
        r = rows(report)[variant]
        print(f"| {report} | `{variant}` | {float(r['gt_tau']):.2f} ± {float(r['gt_tau_std']):.2f} | {mean:.2f} ± "
              f"{std:.2f} | {r['runs']} / {n} | {against_paper(r, mean, std, n):.2f} |")

    print()
    print("| paper rows | GT-Tau a | GT-Tau b | instances | Welch p |")
    print("|---|---|---|---|---|")
    for what, mean_a, std_a, n_a, mean_b, std_b, n_b in PAPER_PAIRS:
        p = welch_p((mean_a, std_a, n_a), (mean_b, std_b, n_b))
        print(f"| {what} | {mean_a:.2f} ± {std_a:.2f} | {mean_b:.2f} ± {std_b:.2f} | {n_a} / {n_b} | {p:.2f} |")
    print()
    print("| paper's row | GT-Tau | instances | 95 % t-interval of its mean |")
    print("|---|---|---|---|")
    for report, variant, mean, std, n in AGAINST_PAPER:
        low, high = mean_interval(mean, std, n)
        print(f"| against our `{variant}` | {mean:.2f} ± {std:.2f} | {n} | {low:.2f} to {high:.2f} |")


if __name__ == "__main__":
    main()
