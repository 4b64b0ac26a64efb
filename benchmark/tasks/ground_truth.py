"""task=ground_truth: every ranked child of the space trained alone, `ground_truth.seeds` times, side by side in
chunks."""
from __future__ import annotations

import logging
import time
from itertools import groupby
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from benchmark.data import ArrayDataModule
from benchmark.errors import require
from benchmark.ground_truth import (HEADER, TABLE, GroundTruth, cache_folder, provenance, read_cached, read_parts,
                                    read_shipped)
from benchmark.io import remove_stale_temps, write_csv, write_json
from benchmark.spaces import SearchSpace
from benchmark.stacked import StackedChildrenModule, side_by_side, stack_accuracy
from benchmark.tasks.common import task_wrapper

log = logging.getLogger(__name__)


def init_seed(seed: int, child: int, space: SearchSpace) -> int:
    """Each (seed, child) pair starts from its own weights, whatever chunk or shard trains it."""
    return seed * space.num_children + child


class Progress(pl.Callback):
    """Children done and time left, logged after an epoch of a chunk when `every` seconds have passed since the last
    line (and after the first epoch): a chunk of 16 children trains for minutes before any row is written."""

    def __init__(self, total: int, every: float = 30.0) -> None:
        self.total, self.every, self.done = total, every, 0
        self.start = time.perf_counter()
        self.last: float | None = None

    def chunk(self, seed: int, size: int) -> "Progress":
        self.seed, self.size = seed, size
        return self

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        now = time.perf_counter()
        if self.last is not None and now - self.last < self.every:
            return
        self.last = now
        done = self.done + self.size * (trainer.current_epoch + 1) / trainer.max_epochs
        left = (now - self.start) / done * (self.total - done)
        log.info("ground truth: %.1f of %d children trained (seed %d, %d side by side, epoch %d/%d); about %s left",
                 done, self.total, self.seed, self.size, trainer.current_epoch + 1, trainer.max_epochs,
                 _duration(left))

    def chunk_done(self) -> None:
        self.done += self.size


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def train_chunk(cfg: DictConfig, space: SearchSpace, dm: ArrayDataModule, seed: int,
                children: list[int], progress: Progress | None = None) -> list[dict[str, Any]]:
    """Train `children` side by side on seed `seed`'s batch order; return their table rows."""
    stack = side_by_side(space, children, dm.shape, [init_seed(seed, c, space) for c in children])
    recipe = cfg.ground_truth
    augmentation = torch.Generator().manual_seed(seed)  # the same draws for every chunk and shard of this seed
    module = StackedChildrenModule(stack, instantiate(recipe.optimizer), instantiate(recipe.scheduler),
                                   transform=lambda x: dm.train_transform(x, augmentation))
    quiet = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    level, quiet.level = quiet.level, logging.WARNING  # one chunk after another: skip Lightning's banners
    try:
        trainer: pl.Trainer = instantiate(cfg.trainer, max_epochs=recipe.epochs, logger=False,
                                          callbacks=[progress.chunk(seed, len(children))] if progress else [],
                                          enable_checkpointing=False, enable_progress_bar=False,
                                          enable_model_summary=False, limit_val_batches=0)
        trainer.fit(module, train_dataloaders=dm.train_dataloader(generator=torch.Generator().manual_seed(seed)))
    finally:
        quiet.setLevel(level)
    stack.to(trainer.strategy.root_device)  # fit ends by moving the module to the CPU; evaluate where it trained
    val, test = stack_accuracy(stack, dm.val_dataloader()), stack_accuracy(stack, dm.test_dataloader())
    return [{"child": space.name(c), "seed": seed, "val_acc": v, "test_acc": t,
             "params": sum(p.numel() for p in space.build_child(c, dm.shape).parameters()),
             "epochs": recipe.epochs} for c, v, t in zip(children, val, test)]


def log_stability(table: GroundTruth) -> dict[str, float]:
    s = table.stability()
    if "s_tau" in s:
        log.info("ground truth over %d seeds (%s): S-Tau %.3f (min %.3f, max %.3f); leave-one-out GT-Tau %.3f +- %.3f; "
                 "T1R %.2f, T3R %.2f  <- the seed-to-seed reference for a supernet", s["seeds"], table.metric,
                 s["s_tau"], s["s_tau_min"], s["s_tau_max"], s["gt_tau"], s["gt_tau_std"], s["t1r"], s["t3r"])
    best = max(table.scores().items(), key=lambda kv: kv[1])
    log.info("ground truth: %d children, best %s (%s %.4f)", len(table.children), best[0], table.metric, best[1])
    return s


@task_wrapper
def run(cfg: DictConfig) -> dict[str, float]:
    recipe = cfg.ground_truth  # its seeds and shard are checked by benchmark/validation.py
    seeds, shard, shards = recipe.seeds, recipe.shard, recipe.num_shards
    space: SearchSpace = instantiate(cfg.search_space)
    folder, out = cache_folder(cfg), Path(cfg.paths.output_dir)
    for temp in remove_stale_temps(folder):
        log.info("removed %s: its writer is gone", temp)
    wanted = [(s, c) for s in range(seeds) for c in space.ranked_children()]
    table = read_cached(folder, space, cfg.ground_truth.metric)
    if table is not None and set(table.seeds) >= set(range(seeds)):
        log.info("ground truth found in the cache: %s", folder / TABLE)
        return _finish(table, out)
    shipped = read_shipped(cfg, space)
    if shipped is not None:  # recomputing is what was asked; say first that a search would not need it
        log.info("a %d-seed table for this space, data and recipe ships with the benchmark (%s): searches rank "
                 "against it without this run; training anyway", len(shipped.seeds), shipped.source)
    pl.seed_everything(cfg.seed, workers=True)
    dm: ArrayDataModule = instantiate(cfg.data)
    dm.setup()
    require(len(dm.splits["val"]) > 0, "data.val_size", dm.val_size,
            "an integer >= 1 for task=ground_truth, whose tables hold every child's validation accuracy beside its "
            "test accuracy (the Deeper Insights preset reads the authors' published table instead)")
    write_json(folder / "provenance.json", provenance(cfg))
    part = folder / f"part-{shard}-of-{shards}.csv"
    mine = {(s, space.name(c)) for s, c in wanted[shard::shards]}
    rows = [r for r in read_parts(folder) if (r["seed"], r["child"]) in mine]  # this shard's finished pairs
    done = {(r["seed"], r["child"]) for r in rows}
    todo = [(s, c) for s, c in wanted[shard::shards] if (s, space.name(c)) not in done]
    log.info("ground truth shard %d/%d: %d of %d (child, seed) pairs to train, %d already done; cache %s",
             shard, shards, len(todo), len(mine), len(done), folder)
    chunk, progress = cfg.ground_truth.chunk, Progress(len(todo))
    for seed, group in groupby(todo, key=lambda p: p[0]):
        children = [c for _, c in group]
        for i in range(0, len(children), chunk):
            rows += train_chunk(cfg, space, dm, seed, children[i:i + chunk], progress)
            write_csv(part, HEADER, [[r[k] for k in HEADER] for r in rows])
            progress.chunk_done()
            log.info("seed %d: %d/%d pairs trained and saved (%.1f s per child)", seed, progress.done, len(todo),
                     (time.perf_counter() - progress.start) / progress.done)
    index = {space.name(c): c for c in space.ranked_children()}  # rows naming anything else are not ours
    merged = sorted((r for r in read_parts(folder) if r["child"] in index),
                    key=lambda r: (r["seed"], index[r["child"]]))
    if {(r["seed"], index[r["child"]]) for r in merged} >= set(wanted):
        table = GroundTruth(merged, cfg.ground_truth.metric, provenance(cfg))
        table.save(folder / TABLE)
        return _finish(table, out)
    log.info("shard %d done; the table is complete once every shard has run (%d of %d pairs so far)",
             shard, len(merged), len(wanted))
    return {}


def _finish(table: GroundTruth, out: Path) -> dict[str, float]:
    """Leave the table in the run's folder too (written from memory: the cache may change meanwhile)."""
    table.save(out / TABLE)
    return log_stability(table)
