"""task=proxies: score every child with training-free proxies and judge them against the ground truth."""
from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from benchmark import ground_truth, metrics
from benchmark.data import ArrayDataModule
from benchmark.io import write_csv
from benchmark.proxies import NEEDS_DATA, score_children
from benchmark.spaces import SearchSpace
from benchmark.tasks.common import task_wrapper

log = logging.getLogger(__name__)
SUMMARY = ("proxy", "gt_tau", "spearman", "t1r", "t3r", "regret", "seconds_per_child")


@task_wrapper
def run(cfg: DictConfig) -> dict[str, float]:
    out = Path(cfg.paths.output_dir)
    pl.seed_everything(cfg.seed, workers=True)
    space: SearchSpace = instantiate(cfg.search_space)
    dm: ArrayDataModule = instantiate(cfg.data)
    names = cfg.proxies.names
    proxies = [names] if isinstance(names, str) else list(names)  # proxies.names=synflow: one proxy
    batch = None
    if any(p in NEEDS_DATA for p in proxies):  # one validation batch; data-free proxies never load data
        dm.setup()
        x, y = dm.splits["val"].tensors
        batch = (x[: dm.batch_size], y[: dm.batch_size])
    rows = score_children(space, space.ranked_children(), dm.shape, proxies, batch, seed=cfg.seed)
    write_csv(out / "proxies.csv", ("child", "proxy", "score", "seconds"),
              [[r["child"], r["proxy"], r["score"], r["seconds"]] for r in rows])
    truth = ground_truth.find(cfg, space)
    if truth is None:
        log.info("proxies written to %s; no ground truth to judge them (run task=ground_truth)", out / "proxies.csv")
        return {}
    ranked = {space.name(c) for c in space.ranked_children()}
    summary, truth_scores = [], {k: v for k, v in truth.scores().items() if k in ranked}
    for p in dict.fromkeys(r["proxy"] for r in rows):  # the proxies that applied to this space
        scores = {r["child"]: float(r["score"]) for r in rows if r["proxy"] == p}
        q = metrics.ranking_quality(scores, truth_scores)
        seconds = sum(float(r["seconds"]) for r in rows if r["proxy"] == p) / len(scores)
        summary.append([p, q["gt_tau"], q["spearman"], q["t1r"], q["t3r"], q["regret"], seconds])
        log.info("%-10s GT-Tau %6.3f  Spearman %6.3f  T1R %4.0f  T3R %4.0f  regret %.4f  (%.4f s/child)",
                 p, *summary[-1][1:])
    write_csv(out / "proxies_summary.csv", SUMMARY, summary)
    return {f"{row[0]}/gt_tau": row[1] for row in summary}
