"""Per-seed GT-Tau (final epoch, and the mean over the last 64 dense steps) of a sweep's runs, with a 95 % t-interval
over seeds and a one-sample t-test against 0: `python -m experiments.deeper_insights.seed_intervals SWEEP_DIR`."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from benchmark import dense, metrics
from benchmark.records import DENSE


def main(sweep: Path) -> None:
    final, last64 = [], []
    for run in sorted(p for p in sweep.iterdir() if (p / "rankings.csv").is_file()):
        rows = list(csv.DictReader(open(run / "rankings.csv")))
        truth = {r["child"]: float(r["gt_acc"]) for r in rows}
        epoch = max(int(r["epoch"]) for r in rows)
        ranked = sorted((r for r in rows if int(r["epoch"]) == epoch), key=lambda r: int(r["rank"]))
        final.append(metrics.kendall_tau({r["child"]: float(r["val_acc"]) for r in ranked}, truth))
        steps, _ = dense.read(run / DENSE, len(truth))
        last64.append(dense.gt_tau_last_k(steps, truth, 64)["mean"])
        print(f"{run.name}: GT-Tau final {final[-1]:.3f}, GT-Tau-Mean-64 {last64[-1]:.3f}")
    for name, values in (("final", final), ("GT-Tau-Mean-64", last64)):
        v = np.array(values)
        low, high = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
        print(f"{name}: mean {v.mean():.3f}, 95 % t-interval {low:.3f} to {high:.3f}, "
              f"t-test against 0 p = {stats.ttest_1samp(v, 0).pvalue:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
