"""task=search: train the supernet, ranking every child after every epoch (the core study)."""
from __future__ import annotations

import csv
import logging
import math
import statistics
from pathlib import Path
from typing import Any, Callable

import pytorch_lightning as pl
from omegaconf import DictConfig
from pytorch_lightning.utilities.exceptions import SIGTERMException

from benchmark import ground_truth
from benchmark.callbacks import RankingSnapshot
from benchmark.errors import EXIT_DIVERGED, EXIT_INTERRUPTED, RunFailed, raised, require
from benchmark.ground_truth import GroundTruth
from benchmark.io import remove_stale_temps, write_json
from benchmark.module import Diverged
from benchmark.resume import discard_checkpoints, record_settings, resume_checkpoint
from benchmark.tasks.common import build_study, build_trainer, instantiate_all, task_wrapper

log = logging.getLogger(__name__)

#: A run has exploded when the median child's validation loss in its last ranking exceeds this many times the loss of
#: guessing (ln of the number of classes): a trained network is never that much worse than a uniform guess.
EXPLODED = 10.0


def write_status(out: Path, status: str, **extra: Any) -> None:
    """`status.json`: running, completed, diverged, exploded, interrupted or failed; reports count only completed
    runs."""
    write_json(out / "status.json", {"status": status, **extra})


def explosion(rows: list[tuple[Any, ...]], num_classes: int) -> str | None:
    """Why the last ranking in `rows` (rankings.csv rows: epoch, step, child, val_acc, val_loss, ...) says the run
    exploded, or None."""
    if not rows:
        return None
    last = rows[-1][0]
    median = statistics.median(float(r[4]) for r in rows if r[0] == last)
    limit = EXPLODED * math.log(num_classes)
    if math.isfinite(median) and median <= limit:
        return None
    return (f"validation loss exploded: the median child's is {median:.4g} after epoch {last}, over {EXPLODED:g}x "
            f"that of guessing ({limit:.3g}); lower module.optimizer.lr")


def read_rows(path: Path) -> list[tuple[Any, ...]]:
    """rankings.csv's rows as written (the file, not the callback: under ddp_spawn the callback lives in a worker)."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [tuple(row) for row in list(csv.reader(f))[1:]]


@task_wrapper
def run(cfg: DictConfig) -> dict[str, Any]:
    return fit(cfg)[0]


def fit(cfg: DictConfig, extra: Callable[[RankingSnapshot], dict[str, pl.Callback]] | None = None,
        ) -> tuple[dict[str, float], GroundTruth | None]:
    """Train and rank as configured; `extra` adds callbacks that act on the ranking (a pruning search's). Returns the
    final logged metrics and the ground truth the run was judged against."""
    out = Path(cfg.paths.output_dir)
    for folder in (out, out / "csv", out / "checkpoints"):  # what writers killed here left behind
        remove_stale_temps(folder)
    datamodule, module = build_study(cfg)
    resumed = resume_checkpoint(cfg, out, module)
    if resumed is None:
        discard_checkpoints(out / "checkpoints")
    truth = ground_truth.find(cfg, module.space)
    if truth is None:
        log.info("no ground truth for this space, data and recipe (looked in %s): rankings are not compared with "
                 "the truth. Run `python run.py task=ground_truth` with the same overrides, or set ground_truth.path.",
                 ground_truth.cache_folder(cfg))
    else:
        truth.save(out / "ground_truth.csv")
        log.info("ranking against ground truth %s (%d children, %d seeds)", truth.source, len(truth.children),
                 len(truth.seeds))
    callbacks = instantiate_all(cfg.get("callbacks"), {"ranking": {"truth": truth}})
    ranking = callbacks.get("ranking")
    if extra is not None:
        require(isinstance(ranking, RankingSnapshot), "callbacks.ranking", None, "the ranking callback "
                "(callbacks=default): this task acts on its rankings")
        callbacks.update(extra(ranking))
    trainer = build_trainer(cfg, callbacks)
    record_settings(out / "checkpoints", cfg)
    started = {"resumed_from": {"checkpoint": str(resumed[0]), "epoch": resumed[1]}} if resumed else {}
    write_status(out, "running", **started)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(resumed[0]) if resumed else None, weights_only=True)
    except BaseException as e:  # under ddp_spawn a worker's exception comes back as text: `raised` reads it
        if (diverged := raised(e, Diverged)) is not None:
            write_status(out, "diverged", message=diverged, epoch=trainer.current_epoch, **started)
            raise RunFailed(f"diverged: {diverged}. Snapshots up to the last good epoch are kept in "
                            f"{out / 'rankings.csv'}", EXIT_DIVERGED) from e
        if raised(e, SIGTERMException) is not None:
            message = (f"stopped by SIGTERM in epoch {trainer.current_epoch}; the checkpoint of the last finished "
                       f"epoch is kept: rerun the same command with resume=true and hydra.run.dir={out}")
            write_status(out, "interrupted", message=message, epoch=trainer.current_epoch, **started)
            raise RunFailed(message, EXIT_INTERRUPTED) from e
        write_status(out, "failed", message=f"{type(e).__name__}: {e}", **started)
        raise
    exploded = explosion(read_rows(out / "rankings.csv"), datamodule.shape.num_classes)
    if exploded:
        write_status(out, "exploded", message=exploded, epoch=trainer.current_epoch - 1, **started)
        raise RunFailed(exploded, EXIT_DIVERGED)
    write_status(out, "completed", **started)
    if truth is None:  # said at the start too; the end of the log is where a user looks
        log.info("rankings are in %s, but without a ground truth they were judged against nothing (no GT-Tau, T1R): "
                 "`python run.py task=ground_truth` with this run's data and search_space overrides trains every "
                 "child alone once (cached in %s); runs and reports after it use it", out / "rankings.csv",
                 ground_truth.cache_folder(cfg))
    return {k: float(v) for k, v in trainer.callback_metrics.items()}, truth
