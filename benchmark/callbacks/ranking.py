"""RankingSnapshot: after every training epoch (or every n-th and the last), rank every child with the shared
weights and snapshot the ranking.

`rankings.csv` (one row per epoch and child: epoch, step, child, val_acc, val_loss, rank, and with a ground truth
gt_acc, gt_rank) is the source of truth for every later analysis; it is rewritten atomically each epoch and its rows
also travel in checkpoints, so a resumed run continues the same file. `val_acc`/`val_loss` are measured on the split
`snapshot.json` names as `ranked_on` (the validation split by default; Deeper Insights ranks on the test set), with
BatchNorm statistics re-estimated per child (`bn=recalibrate`) or the supernet's shared running ones (`bn=shared`).
`every_n_epochs=n` ranks only after every n-th epoch and the last (`records.ranked_epochs`): long schedules (Deeper
Insights' prefix runs rank every 100th of 2,000 epochs) stay affordable, and stability figures then compare consecutive
snapshots, not consecutive epochs.
Rank 1 is the best child: higher accuracy first, ties broken by lower loss, then child index.

Dense snapshots (`dense_steps=k`): after each of the run's last k optimizer steps every child is ranked again and the
rows go to `rankings_dense.csv` with one more column, `since_trained`: how many steps ago the child was last trained
(0 = at this very step, empty = never), which shows whether the child trained last jumps to the top.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.utilities import rank_zero_info

from benchmark import metrics
from benchmark.errors import is_int, require
from benchmark.evaluation import ChildScore, evaluate_children
from benchmark.ground_truth import GroundTruth
from benchmark.io import write_csv, write_json
from benchmark.loggers import log_rows
from benchmark.records import DENSE, DENSE_HEADER, GT_HEADER, HEADER, RANKINGS, ranked_epochs

#: How children's BatchNorm statistics are set before they are measured: re-estimated on fixed training batches
#: (How Does Supernet Help), or the supernet's shared running statistics, as after model.eval() (Deeper Insights).
BN_PROTOCOLS = ("recalibrate", "shared")
SPLITS = ("val", "test")


def rank_children(scores: list[ChildScore]) -> list[ChildScore]:
    """Best first: accuracy descending, then loss ascending, then child index (a total, documented order)."""
    return sorted(scores, key=lambda s: (-s.val_acc, s.val_loss, s.child))


class RankingSnapshot(pl.Callback):
    def __init__(self, output_dir: str, top_k: int = 5, calib_batches: int = 2, block: int | None = None,
                 bn: str = "recalibrate", split: str = "val", dense_steps: int = 0, every_n_epochs: int = 1,
                 truth: GroundTruth | None = None, filename: str = RANKINGS, dense_filename: str = DENSE) -> None:
        """`truth`: the table every snapshot is judged against (its mean over seeds; gt_acc/gt_rank columns and
        metrics), given by the task that found it; None ranks without judging."""
        require(is_int(top_k) and top_k >= 1, "callbacks.ranking.top_k", top_k, "an integer >= 1")
        require(bn in BN_PROTOCOLS, "callbacks.ranking.bn", bn, f"one of {list(BN_PROTOCOLS)}")
        require(is_int(calib_batches) and (calib_batches >= 1 or bn == "shared"), "callbacks.ranking.calib_batches",
                calib_batches, "an integer >= 1 with bn=recalibrate (bn=shared ranks with the supernet's running "
                               "statistics and ignores it)")
        require(split in SPLITS, "callbacks.ranking.split", split, f"one of {list(SPLITS)}")
        require(is_int(dense_steps) and dense_steps >= 0, "callbacks.ranking.dense_steps", dense_steps,
                "an integer >= 0: rank every child after each of the run's last dense_steps steps (0 = off)")
        require(is_int(every_n_epochs) and every_n_epochs >= 1, "callbacks.ranking.every_n_epochs", every_n_epochs,
                "an integer >= 1: rank after every n-th epoch and the last (1 = every epoch)")
        require(block is None or (is_int(block) and block >= 1), "callbacks.ranking.block", block,
                "null (64 on a GPU, 1 on a CPU) or an integer >= 1 (1 = node by node)")
        self.output_dir, self.top_k, self.calib_batches = Path(output_dir), top_k, calib_batches
        self.block, self.bn, self.split, self.dense_steps = block, bn, split, dense_steps
        self.every_n_epochs = every_n_epochs
        self.path, self.dense_path = self.output_dir / filename, self.output_dir / dense_filename
        self.rows: list[tuple[Any, ...]] = []
        self.dense_rows: list[tuple[Any, ...]] = []
        self.trained_at: dict[int, int] = {}  # child -> the last global step that trained it
        self.truth: dict[str, float] | None = truth.scores() if truth is not None else None
        self.children: list[int] | None = None  # the children still ranked: None = all (a pruning search drops some)

    def ranked(self, pl_module: pl.LightningModule) -> list[int]:
        """The children every snapshot ranks: the space's, less any a pruning search dropped."""
        return pl_module.space.ranked_children() if self.children is None else list(self.children)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        space = pl_module.space
        ranked = space.ranked_children()
        n = len(ranked)
        require(self.top_k <= n, "callbacks.ranking.top_k", self.top_k, f"at most the number of ranked children ({n})")
        dm = trainer.datamodule  # set up before callbacks
        require(len(dm.splits[self.split]) > 0, "callbacks.ranking.split", self.split,
                "a split with examples (data.val_size=0 leaves no validation split: rank on split=test)")
        batches = len(dm.train_dataloader())
        require(self.bn == "shared" or self.calib_batches <= batches, "callbacks.ranking.calib_batches",
                self.calib_batches,
                f"at most the number of training batches ({batches} of {trainer.datamodule.batch_size} examples); "
                "bn=shared ranks without re-calibrating")
        if self.truth:
            common = len({space.name(c) for c in ranked} & self.truth.keys())
            require(common >= 2, "ground_truth.path", f"a table covering {common} of the {n} ranked children",
                    "a table covering at least two of them (rankings are judged on the children both have)")

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            dm = trainer.datamodule
            write_json(self.output_dir / "snapshot.json", {
                "ranked_on": self.split, "bn": self.bn, "dense_steps": self.dense_steps,
                "every_n_epochs": self.every_n_epochs,
                **({"calib_on": "train", "calib_batches": self.calib_batches} if self.bn == "recalibrate" else {}),
                "calib_batch_size": dm.batch_size, "num_children": len(pl_module.space.ranked_children()),
                "space_size": pl_module.supernet.num_children, "eval_seed": pl_module.space.eval_seed,
                "space": type(pl_module.space).__name__, "decisions": pl_module.space.decisions,
                "choices": [list(c) for c in pl_module.space.choices], **dm.split_info(),
            })

    def _rank(self, trainer: pl.Trainer, pl_module: pl.LightningModule, progress: bool = False) -> list[ChildScore]:
        """Every child measured on the ranking split and ordered best first (`progress`: with a progress bar)."""
        dm, device = trainer.datamodule, pl_module.device
        data = [(x.to(device), y.to(device)) for x, y in getattr(dm, f"{self.split}_dataloader")()]
        calib = [x.to(device) for x in dm.calibration_inputs(self.calib_batches)] if self.bn == "recalibrate" else []
        with _RankingBar(trainer, len(self.ranked(pl_module)) if progress else 0) as bar:
            return rank_children(self._evaluate(trainer, pl_module, data, calib, bar))

    def _space_truth(self, space: Any) -> dict[str, float]:
        """The ground truth of the children the space ranks: a published table may hold the whole space (15,625 NB201
        cells). Not only of those still ranked: a pruning search's pick is judged against every child (its gt_rank,
        T1R and regret), while GT-Tau compares the children both tables hold."""
        if not self.truth:
            return {}
        names = {space.name(c) for c in space.ranked_children()}
        return {k: v for k, v in self.truth.items() if k in names}

    def _rows(self, ranked: list[ChildScore], space: Any, epoch: int, step: int,
              extra: Callable[[int], tuple[Any, ...]] = lambda child: ()) -> list[tuple[Any, ...]]:
        truth = self._space_truth(space)
        gt_ranks = metrics.true_ranks(truth) if truth else {}
        rows = []
        for rank, s in enumerate(ranked, start=1):
            name = space.name(s.child)
            gt = (truth.get(name, ""), gt_ranks.get(name, "")) if self.truth else ()
            rows.append((epoch, step, name, s.val_acc, s.val_loss, rank, *extra(s.child), *gt))
        return rows

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        step = trainer.global_step  # after this batch's update
        for child in pl_module.last_children:
            self.trained_at[child] = step
        if self.dense_steps and step > trainer.estimated_stepping_batches - self.dense_steps:
            with torch.random.fork_rng(devices=[]):  # a DataLoader draws a seed: leave the run's RNG as it was
                ranked = self._rank(trainer, pl_module)
            self.dense_rows = [r for r in self.dense_rows if r[1] != step]
            self.dense_rows += self._rows(ranked, pl_module.space, trainer.current_epoch, step,
                                          lambda c: (step - self.trained_at[c] if c in self.trained_at else "",))
            if trainer.is_global_zero:
                write_csv(self.dense_path, DENSE_HEADER + (GT_HEADER if self.truth else ()), self.dense_rows)

    def ranks_at(self, trainer: pl.Trainer, epoch: int) -> bool:
        """Whether this epoch ends with a snapshot."""
        return epoch in ranked_epochs(trainer.max_epochs, self.every_n_epochs)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch, step = trainer.current_epoch, trainer.global_step
        if not self.ranks_at(trainer, epoch):
            return
        space = pl_module.space
        ranked = self._rank(trainer, pl_module, progress=True)
        self.rows = [r for r in self.rows if r[0] != epoch] + self._rows(ranked, space, epoch, step)
        if trainer.is_global_zero:
            write_csv(self.path, HEADER + (GT_HEADER if self.truth else ()), self.rows)
        truth = self._space_truth(space)
        if truth:
            quality = metrics.ranking_quality({space.name(s.child): s.val_acc for s in ranked}, truth,
                                              top=max(1, min(10, len(ranked) // 4)))
            for key, value in quality.items():
                pl_module.log(f"ranking/{key}", value, sync_dist=True)
        accs = [s.val_acc for s in ranked]
        # Every rank holds the same ranking; sync_dist only keeps Lightning's bookkeeping consistent across ranks.
        pl_module.log("ranking/best_acc", accs[0], sync_dist=True)
        pl_module.log("ranking/mean_acc", sum(accs) / len(accs), sync_dist=True)
        pl_module.log("ranking/worst_acc", accs[-1], sync_dist=True)
        pl_module.best_child = ranked[0].child  # MAGIC-A's anchor at the next refresh
        # Child indices, kept in metrics.csv; W&B leaves them out of its charts and gets the table below instead.
        for rank, s in enumerate(ranked[: self.top_k], start=1):
            pl_module.log(f"ranking/top{rank}_child", float(s.child), sync_dist=True)
        if trainer.is_global_zero:
            truth = self.truth or {}
            columns = ["epoch", "rank", "child", "ops", "val_acc"] + (["gt_acc"] if truth else [])
            rows = [[epoch, r, space.name(s.child), space.describe(s.child), s.val_acc]
                    + ([truth.get(space.name(s.child))] if truth else [])
                    for r, s in enumerate(ranked[: self.top_k], 1)]
            for logger in trainer.loggers:
                log_rows(logger, "ranking/top_k", columns, rows)

    def _evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule, val: list, calib: list,
                  bar: "_RankingBar | None" = None) -> list[ChildScore]:
        """Every child, split across DDP ranks (each evaluates children rank, rank + world, ...) and gathered; a
        child's numbers do not depend on which rank or subset evaluates it (tested)."""
        children = self.ranked(pl_module)
        world = trainer.world_size
        if world > 1:  # every rank ranks with rank 0's BatchNorm statistics (they matter when calib_batches=0)
            for buffer in pl_module.supernet.buffers():
                torch.distributed.broadcast(buffer, src=0)
        mine = list(children[trainer.global_rank::world])
        # The prefix-tree evaluator shares work between the children of a chain space: they are ranked in one call.
        # Cell spaces evaluate child by child anyway, so the bar can count them as they are done.
        parts = [mine] if pl_module.space.is_chain or bar is None or not bar.shown else [[c] for c in mine]
        scores = []
        for part in parts:
            scores += evaluate_children(pl_module.supernet, part, val, calib, self.block)
            if bar is not None:
                bar.update(len(part) * world)  # the other ranks evaluate as many at the same time
        if world == 1:
            return scores
        parts: list[Any] = [None] * world
        torch.distributed.all_gather_object(parts, [(s.child, s.val_acc, s.val_loss) for s in scores])
        return [ChildScore(*t) for part in parts for t in part]

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The top children, once the progress bar is closed (on_train_end would print them onto its line)."""
        if not self.rows:
            return
        last = self.rows[-1][0]
        top = [r for r in self.rows if r[0] == last][: self.top_k]
        lines = [f"Top {len(top)} children after epoch {last} (ranked on validation, {self.path}):"]
        for _, _, child, acc, loss, rank, *gt in top:
            truth = f" gt_acc={gt[0]:.4f} gt_rank={gt[1]}" if gt and gt[0] != "" else ""
            lines.append(f"  {rank:>3}. {child:<12} {pl_module.space.describe(pl_module.space.child(child).index):<40} "
                         f"val_acc={acc:.4f} val_loss={loss:.4f}{truth}")
        rank_zero_info("\n".join(lines))

    def state_dict(self) -> dict[str, Any]:
        return {"rows": list(self.rows), "dense_rows": list(self.dense_rows),
                "trained_at": [[c, s] for c, s in self.trained_at.items()], "children": self.children}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = [tuple(r) for r in state_dict["rows"]]
        self.dense_rows = [tuple(r) for r in state_dict.get("dense_rows", [])]
        self.trained_at = {int(c): int(s) for c, s in state_dict.get("trained_at", [])}
        children = state_dict.get("children")
        self.children = None if children is None else [int(c) for c in children]


class _RankingBar:
    """'ranking 64 children' as its own progress step below Lightning's training bar, so that an epoch's bar does not
    sit at 100% with its clock running while the children are ranked. Shown on rank 0 only and only while Lightning's
    tqdm progress bar is on (`trainer.enable_progress_bar`); otherwise (n=0, other ranks, no bar) it does nothing."""

    def __init__(self, trainer: pl.Trainer, n: int) -> None:
        self.n, self.bar = n, None
        progress = trainer.progress_bar_callback
        self.shown = (bool(n) and trainer.is_global_zero and isinstance(progress, TQDMProgressBar)
                      and progress.is_enabled)

    def __enter__(self) -> "_RankingBar":
        if self.shown:
            from tqdm import tqdm

            self.bar = tqdm(total=self.n, desc=f"ranking {self.n} children", unit="child", leave=False,
                            dynamic_ncols=True, file=sys.stdout, smoothing=0)
        return self

    def update(self, k: int) -> None:
        if self.bar is not None:
            self.bar.update(min(k, self.n - self.bar.n))

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
