"""The files a run leaves for later analysis, in one place: what writers write and readers (reports, dashboards,
tasks) expect. Kept apart from the callbacks that write them, so that reading a run never imports training code."""
from __future__ import annotations

import csv
from pathlib import Path

#: rankings.csv: one row per epoch and child; with a ground truth its accuracy and rank follow (GT_HEADER).
RANKINGS = "rankings.csv"
HEADER = ("epoch", "step", "child", "val_acc", "val_loss", "rank")
GT_HEADER = ("gt_acc", "gt_rank")
#: rankings_dense.csv: the same after each of the run's last optimizer steps, and how long ago each child trained.
DENSE = "rankings_dense.csv"
DENSE_HEADER = HEADER + ("since_trained",)
#: interference.csv: one row per probed pair of children sharing an operator.
INTERFERENCE = "interference.csv"
INTERFERENCE_HEADER = ("step", "layer", "op", "child_a", "child_b", "d", "grad_cos", "input_cos", "output_cos")
#: pruning.csv (task=prune_search): one row per pruning, the kept and dropped children as names joined by spaces.
PRUNING = "pruning.csv"
PRUNING_HEADER = ("round", "epoch", "step", "kept", "dropped")
#: pruning_summary.json: the pruned space judged against the ground truth (benchmark/tasks/prune_search.py).
PRUNING_SUMMARY = "pruning_summary.json"


def ranked_epochs(max_epochs: int, every_n_epochs: int = 1) -> list[int]:
    """The epochs rankings.csv holds: every `every_n_epochs`-th (epoch e when e + 1 is a multiple) and always the last,
    so that a run ends on a ranking whatever its length."""
    return [e for e in range(max_epochs) if (e + 1) % every_n_epochs == 0 or e == max_epochs - 1]


def kept_after(folder: Path) -> dict[int, set[str]]:
    """A pruning search's pruning.csv as epoch -> the children kept after it; {} for a run that never pruned."""
    file = folder / PRUNING
    if not file.exists():
        return {}
    with open(file, newline="") as f:
        return {int(row["epoch"]): set(row["kept"].split()) for row in csv.DictReader(f)}
