"""How precise a ground-truth table is: `python -m experiments.ground_truth.agreement TABLE.csv`.

Beside the leave-one-out GT-Tau that `task=ground_truth` prints (one seed against the others' mean), this says how
steady the table's mean over seeds is (Kendall tau between the means of two halves of the seeds, over every split)
and why a single seed may rank poorly: a child's accuracy spread across seeds against the spread of the children's
means.
"""
from __future__ import annotations

import csv
import itertools
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmark import metrics


def main(table: Path, metric: str = "test_acc") -> None:
    acc: dict[int, dict[str, float]] = defaultdict(dict)
    with open(table) as f:
        for row in csv.DictReader(f):
            acc[int(row["seed"])][row["child"]] = float(row[metric])
    seeds, children = sorted(acc), sorted(acc[min(acc)])
    values = np.array([[acc[s][c] for c in children] for s in seeds])  # seed x child
    means = values.mean(axis=0)
    print(f"{len(children)} children, {len(seeds)} seeds; {metric} of the children's means "
          f"{100 * means.min():.1f}-{100 * means.max():.1f} %")
    print(f"a child's spread across seeds (mean standard deviation): {100 * values.std(axis=0, ddof=1).mean():.2f} pp; "
          f"the spread of the children's means (standard deviation): {100 * means.std(ddof=1):.2f} pp")
    half = len(seeds) // 2
    taus = []
    for first in itertools.combinations(range(len(seeds)), half):
        if 0 not in first:  # each split once
            continue
        rest = [i for i in range(len(seeds)) if i not in first]
        a, b = values[list(first)].mean(axis=0), values[rest].mean(axis=0)
        taus.append(metrics.kendall_tau(dict(zip(children, a)), dict(zip(children, b))))
    print(f"split-half: the means of {half} seeds against the other {len(seeds) - half}'s, Kendall tau "
          f"{np.mean(taus):.2f} (min {min(taus):.2f}, max {max(taus):.2f} over {len(taus)} splits)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
