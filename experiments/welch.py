"""The p-values the experiment READMEs quote for reports made before reports carried paired tests.

Those reports kept each variant's mean GT-Tau, its population std and its number of seeds (summary.csv), not the
per-seed values, so the only test they allow is Welch's unequal-variance t-test from those statistics (sample std =
population std x sqrt(n / (n - 1))). It assumes normal per-seed values, which 3 seeds cannot check: read its p-values
as rough. Reports built now carry exact paired tests instead (docs/report.md, Uncertainty).

    python -m experiments.welch
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

from scipy import stats

HERE = Path(__file__).parent

#: (report folder, variant a, variant b): the comparisons the READMEs make in words, for reports without paired tests.
COMPARISONS = [
    ("sharing_degree/report", "sharing=partial sharing.groups=2 sharing.partition=similarity",
     "sharing=partial sharing.groups=2 sharing.partition=random"),
    ("sharing_degree/report", "sharing=partial sharing.groups=4 sharing.partition=similarity",
     "sharing=partial sharing.groups=4 sharing.partition=random"),
    ("sharing_degree/report", "sharing=partial sharing.groups=8 sharing.partition=similarity",
     "sharing=partial sharing.groups=8 sharing.partition=random"),
    ("sharing_degree/report", "sharing=partial sharing.groups=16 sharing.partition=similarity",
     "sharing=partial sharing.groups=16 sharing.partition=random"),
    ("sharing_degree/report", "sharing=partial sharing.groups=8 sharing.partition=similarity",
     "sharing=partial sharing.groups=4 sharing.partition=similarity"),
    ("sharing_degree/report_per_group_budget", "sharing.groups=2 sharing.partition=similarity trainer.max_epochs=80",
     "sharing.groups=2 sharing.partition=random trainer.max_epochs=80"),
    ("sharing_degree/report_per_group_budget", "sharing.groups=4 sharing.partition=similarity trainer.max_epochs=160",
     "sharing.groups=4 sharing.partition=random trainer.max_epochs=160"),
]


#: (report folder, our variant, the paper's mean GT-Tau, its std, its instances): our rows against a paper's table.
AGAINST_PAPER = [
    ("variance/report", "sampler=round_robin", 0.46, 0.15, 10),  # Deeper Insights, Table 1, "different seeds"
]


def rows(report: str) -> dict[str, dict[str, str]]:
    with open(HERE / report / "summary.csv", newline="") as f:
        return {r["variant"]: r for r in csv.DictReader(f)}


def _stats(row: dict[str, str]) -> tuple[float, float, int]:
    """Mean GT-Tau, its sample std (the summary keeps the population std) and the number of seeds."""
    n = int(row["runs"])
    return float(row["gt_tau"]), float(row["gt_tau_std"]) * math.sqrt(n / (n - 1)), n


def welch(a: dict[str, str], b: dict[str, str]) -> float:
    """Two-sided Welch p-value of mean GT-Tau a vs b from two summary rows."""
    return float(stats.ttest_ind_from_stats(*_stats(a), *_stats(b), equal_var=False).pvalue)


def against_paper(row: dict[str, str], mean: float, std: float, n: int) -> float:
    """Two-sided Welch p-value of our mean GT-Tau against a paper's mean, std and number of instances."""
    return float(stats.ttest_ind_from_stats(*_stats(row), mean, std, n, equal_var=False).pvalue)


def main() -> None:
    print("| report | a | b | GT-Tau a | GT-Tau b | seeds | Welch p |")
    print("|---|---|---|---|---|---|---|")
    for report, a, b in COMPARISONS:
        table = rows(report)
        if a not in table or b not in table:
            print(f"| {report} | {a} | {b} | (variant not in summary.csv: {sorted(table)}) |")
            continue
        ra, rb = table[a], table[b]
        print(f"| {report} | `{a}` | `{b}` | {float(ra['gt_tau']):.2f} ± {float(ra['gt_tau_std']):.2f} | "
              f"{float(rb['gt_tau']):.2f} ± {float(rb['gt_tau_std']):.2f} | {ra['runs']} / {rb['runs']} | "
              f"{welch(ra, rb):.2f} |")
    print()
    print("| report | ours | GT-Tau ours | GT-Tau paper | seeds / instances | Welch p |")
    print("|---|---|---|---|---|---|")
    for report, variant, mean, std, n in AGAINST_PAPER:
        r = rows(report)[variant]
        print(f"| {report} | `{variant}` | {float(r['gt_tau']):.2f} ± {float(r['gt_tau_std']):.2f} | {mean:.2f} ± "
              f"{std:.2f} | {r['runs']} / {n} | {against_paper(r, mean, std, n):.2f} |")


if __name__ == "__main__":
    main()
