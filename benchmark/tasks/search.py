"""task=search: train the supernet, ranking every child after every epoch (the core study)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from benchmark import ground_truth
from benchmark.callbacks import RankingSnapshot
from benchmark.tasks.common import build_study, build_trainer, task_wrapper

log = logging.getLogger(__name__)


@task_wrapper
def run(cfg: DictConfig) -> dict[str, Any]:
    datamodule, module = build_study(cfg)
    truth = ground_truth.find(cfg, module.space)
    if truth is None:
        log.info("no ground truth for this space, data and recipe (looked in %s): rankings are not compared with "
                 "the truth. Run `python run.py task=ground_truth` with the same overrides, or set ground_truth.path.",
                 ground_truth.cache_folder(cfg))
    else:
        truth.save(Path(cfg.paths.output_dir) / "ground_truth.csv")
        log.info("ranking against ground truth %s (%d children, %d seeds)",
                 cfg.ground_truth.path or ground_truth.cache_folder(cfg), len(truth.children), len(truth.seeds))
    trainer = build_trainer(cfg)
    for callback in trainer.callbacks:
        if isinstance(callback, RankingSnapshot):
            callback.set_ground_truth(truth)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    return {k: float(v) for k, v in trainer.callback_metrics.items()}
