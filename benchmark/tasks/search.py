"""task=search: train the supernet, ranking every child after every epoch (the core study)."""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from benchmark.tasks.common import build_study, build_trainer, task_wrapper


@task_wrapper
def run(cfg: DictConfig) -> dict[str, Any]:
    datamodule, module = build_study(cfg)
    trainer = build_trainer(cfg)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    return {k: float(v) for k, v in trainer.callback_metrics.items()}
