"""Pruning: the supernet-guided pruning search of How Does Supernet Help (finding v) as a callback.

After every `every` epochs, for `rounds` rounds, the worst `drop` share of the children still in the search (by the
epoch's ranking, just taken by RankingSnapshot) are dropped: from then on the sampler trains only the kept children and
the ranking ranks only them. Each pruning is a row of `pruning.csv` (round, epoch, step, kept, dropped: child names
joined by spaces), rewritten atomically; the rows, the sampler's children and the ranking's children travel in
checkpoints, so a resumed run prunes exactly as an uninterrupted one.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from benchmark.callbacks.ranking import RankingSnapshot
from benchmark.errors import is_int, require
from benchmark.samplers import SUBSETS
from benchmark.io import write_csv
from benchmark.records import PRUNING, PRUNING_HEADER



def kept_counts(n: int, rounds: int, drop: float) -> list[int]:
    """Children left after each round: the worst floor(drop x remaining) go, at least one always stays."""
    counts = []
    for _ in range(rounds):
        n = max(1, n - math.floor(drop * n))
        counts.append(n)
    return counts


class Pruning(pl.Callback):
    def __init__(self, ranking: RankingSnapshot, output_dir: str | Path, rounds: int, every: int, drop: float,
                 filename: str = PRUNING) -> None:
        require(is_int(rounds) and rounds >= 1, "task.rounds", rounds, "an integer >= 1")
        require(is_int(every) and every >= 1, "task.every", every, "an integer >= 1 (epochs between prunings)")
        require(isinstance(drop, (int, float)) and not isinstance(drop, bool) and 0 < drop < 1, "task.drop", drop,
                "a share strictly between 0 and 1 of the remaining children to drop each round")
        self.ranking, self.rounds, self.every, self.drop = ranking, rounds, every, float(drop)
        self.path = Path(output_dir) / filename
        self.rows: list[tuple[Any, ...]] = []

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        epochs = trainer.max_epochs
        require(self.rounds * self.every < epochs, "task.rounds", self.rounds,
                f"rounds x every < trainer.max_epochs ({self.rounds} x {self.every} >= {epochs}): the last pruning "
                f"must leave epochs to train the kept children")
        every_n = self.ranking.every_n_epochs
        require(self.every % every_n == 0, "task.every", self.every,
                f"a multiple of callbacks.ranking.every_n_epochs={every_n}: a pruning needs that epoch's ranking")
        n = len(self.ranking.ranked(pl_module))
        require(math.floor(self.drop * n) >= 1 and kept_counts(n, self.rounds, self.drop)[-1] >= 2, "task.drop",
                self.drop, f"a share that drops at least one of the {n} ranked children and, after {self.rounds} "
                           f"rounds, keeps at least two to rank (keeps {kept_counts(n, self.rounds, self.drop)})")
        sampler = pl_module.sampler
        require(sampler.walks_subsets, "sampler", type(sampler).__name__, SUBSETS)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Runs after RankingSnapshot's hook (it comes first in the callback list) and before the checkpoint's."""
        epoch = trainer.current_epoch
        done = (epoch + 1) // self.every
        if (epoch + 1) % self.every or done > self.rounds or len(self.rows) >= done:
            return
        space = pl_module.space
        ranked = [space.child(r[2]).index for r in sorted((r for r in self.ranking.rows if r[0] == epoch),
                                                          key=lambda r: int(r[5]))]
        keep = ranked[: kept_counts(len(ranked), 1, self.drop)[0]]
        pl_module.sampler.restrict(keep)
        self.ranking.children = keep
        self.rows.append((done, epoch, trainer.global_step, " ".join(space.name(c) for c in keep),
                          " ".join(space.name(c) for c in ranked[len(keep):])))
        if trainer.is_global_zero:
            write_csv(self.path, PRUNING_HEADER, self.rows)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": list(self.rows)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = [tuple(r) for r in state_dict["rows"]]
