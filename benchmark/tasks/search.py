"""task=search: train the supernet, ranking every child after every epoch (the core study)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from benchmark import ground_truth
from benchmark.callbacks import RankingSnapshot
from benchmark.errors import require
from benchmark.io import write_json
from benchmark.module import Diverged
from benchmark.tasks.common import build_study, build_trainer, task_wrapper

log = logging.getLogger(__name__)


def write_status(out: Path, status: str, **extra: Any) -> None:
    """`status.json`: running, completed, diverged or failed; the report counts only completed runs."""
    write_json(out / "status.json", {"status": status, **extra})


def resume_checkpoint(cfg: DictConfig, out: Path) -> str | None:
    """`ckpt_path` if given; with `resume=true`, this run folder's last checkpoint if there is one."""
    if cfg.get("ckpt_path"):
        require(Path(cfg.ckpt_path).is_file(), "ckpt_path", cfg.ckpt_path, "an existing Lightning checkpoint file")
        return str(cfg.ckpt_path)
    last = out / "checkpoints" / "last.ckpt"
    if cfg.get("resume") and last.is_file():
        log.info("resuming from %s", last)
        return str(last)
    if cfg.get("resume"):
        log.info("resume=true but %s does not exist yet: starting from scratch", last)
    return None


@task_wrapper
def run(cfg: DictConfig) -> dict[str, Any]:
    out = Path(cfg.paths.output_dir)
    datamodule, module = build_study(cfg)
    ckpt = resume_checkpoint(cfg, out)
    truth = ground_truth.find(cfg, module.space)
    if truth is None:
        log.info("no ground truth for this space, data and recipe (looked in %s): rankings are not compared with "
                 "the truth. Run `python run.py task=ground_truth` with the same overrides, or set ground_truth.path.",
                 ground_truth.cache_folder(cfg))
    else:
        truth.save(out / "ground_truth.csv")
        log.info("ranking against ground truth %s (%d children, %d seeds)",
                 cfg.ground_truth.path or ground_truth.cache_folder(cfg), len(truth.children), len(truth.seeds))
    trainer = build_trainer(cfg)
    for callback in trainer.callbacks:
        if isinstance(callback, RankingSnapshot):
            callback.set_ground_truth(truth)
    write_status(out, "running")
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
    except Diverged as e:
        log.error("diverged: %s. Snapshots up to the last good epoch are kept in %s", e, out / "rankings.csv")
        write_status(out, "diverged", message=str(e), epoch=trainer.current_epoch)
        return {}
    except BaseException as e:
        write_status(out, "failed", message=f"{type(e).__name__}: {e}")
        raise
    write_status(out, "completed")
    return {k: float(v) for k, v in trainer.callback_metrics.items()}
