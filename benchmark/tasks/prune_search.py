"""task=prune_search: supernet-guided pruning (How Does Supernet Help, finding v). Train the supernet, drop the
worst share of the children by its ranking, train and rank the kept ones only, repeat; then judge the pruned space.

The run is a search run (same files, checkpoints, resume, status) plus `pruning.csv` and, with a ground truth,
`pruning_summary.json`: per round whether the true best survived, how much of the true top 10 % did, and the kept
children's mean accuracy; for the end, the supernet's pick (true rank, regret) beside random search in closed form
(benchmark/random_search.py) — one random child of the whole space and of the kept ones, and random search given as
many ground-truth evaluations as children were kept, against picking the best of the kept ones with those evaluations.
The unpruned supernet with the same steps is `task=search` with the same seed and epochs; `benchmark.report` pairs them.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from benchmark import metrics
from benchmark.callbacks import Pruning
from benchmark.io import write_json
from benchmark.random_search import expected_best
from benchmark.records import PRUNING, PRUNING_SUMMARY, RANKINGS
from benchmark.tasks.common import task_wrapper
from benchmark.tasks.search import fit, read_rows

log = logging.getLogger(__name__)


def pruned_space(truth: dict[str, float], kept: list[str], percent: float = 10) -> dict[str, Any]:
    """How good a kept set is: is the true best in it, what share of the true top `percent` % (metrics.top_count) and
    what mean ground-truth accuracy it holds, beside the whole space's."""
    ranks = metrics.true_ranks(truth)
    cut = metrics.top_count(len(truth), percent)
    best = min(ranks[c] for c in kept)
    return {"kept": len(kept), "true_best_kept": best == 1, "best_kept_true_rank": best,
            "top10_kept": sum(ranks[c] <= cut for c in kept) / sum(r <= cut for r in ranks.values()),
            "kept_mean_acc": sum(truth[c] for c in kept) / len(kept),
            "space_mean_acc": sum(truth.values()) / len(truth)}


def summarize(truth: dict[str, float], rounds: list[tuple[Any, ...]], final: list[tuple[Any, ...]]) -> dict[str, Any]:
    """pruning_summary.json from the ground truth, pruning.csv's rows and the last epoch's rankings.csv rows."""
    every = list(truth)
    kept = [r[2] for r in sorted(final, key=lambda r: int(r[5]))]
    pick = kept[0]
    ranks = metrics.true_ranks(truth)
    return {
        "rounds": [{"round": int(r[0]), "epoch": int(r[1]), **pruned_space(truth, r[3].split())} for r in rounds],
        "final": {
            "pick": pick, "pick_true_rank": ranks[pick], "pick_regret": max(truth.values()) - truth[pick],
            **pruned_space(truth, kept),
            "random_child_of_space": expected_best(truth, every, 1),
            "random_child_of_kept": expected_best(truth, kept, 1),
            "random_search_same_evaluations": expected_best(truth, every, len(kept)),
            "best_of_kept": expected_best(truth, kept, len(kept)),
        },
    }


@task_wrapper
def run(cfg: DictConfig) -> dict[str, float]:
    out = Path(cfg.paths.output_dir)
    task = cfg.task
    result, truth = fit(cfg, lambda ranking: {"pruning": Pruning(ranking, out, task.rounds, task.every, task.drop)})
    if truth is None:  # the search said how to get one
        log.info("without a ground truth the pruned space is not judged (no pruning_summary.json)")
        return result
    rows = read_rows(out / RANKINGS)
    last = rows[-1][0]
    summary = summarize(truth.scores(), read_rows(out / PRUNING), [r for r in rows if r[0] == last])
    write_json(out / PRUNING_SUMMARY, summary)
    final = summary["final"]
    log.info("pruned to %d children: the supernet's pick %s has true rank %d (regret %.4f); the best kept child has "
             "true rank %d; random search with %d evaluations expects rank %.1f; true top 10%% kept: %.0f%%",
             final["kept"], final["pick"], final["pick_true_rank"], final["pick_regret"],
             final["best_kept_true_rank"], final["kept"], final["random_search_same_evaluations"]["true_rank"],
             100 * final["top10_kept"])
    return result
