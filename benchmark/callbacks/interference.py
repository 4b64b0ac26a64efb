"""InterferenceProbe: how much do children disagree about the gradient of an operator they share? (Xu et al., 2022)

Every `every_n_steps` steps, for each shared operator (a unit with weights at decision l, op o) and each distance
d = 1 .. L-1, sample pairs of children that both use that operator's copy and differ in exactly d *other* decisions;
on the current batch compute the gradient of the operator's weights under each child, and the cosine similarity of the
two gradients, of the operator's inputs and of its outputs (per example, averaged). Low gradient similarity = strong
interference.

The probe never touches `.grad`, the optimizer, the DDP wrapper, the global RNG or any BatchNorm statistic (all
buffers are restored), so a run with the probe yields exactly the rankings of a run without it (tested). Rows go to
`interference.csv`; at the end, Spearman correlations (d vs gradient similarity; input/output vs gradient similarity)
go to `interference_summary.json`, the loggers, and `interference.png`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_info

from benchmark.errors import require
from benchmark.evaluation import preserved_state
from benchmark.io import write_csv, write_json
from benchmark.interference import summarize
from benchmark.records import INTERFERENCE, INTERFERENCE_HEADER
from benchmark.supernet import Supernet



class InterferenceProbe(pl.Callback):
    def __init__(self, output_dir: str, every_n_steps: int = 25, pairs_per_distance: int = 2, seed: int = 0,
                 filename: str = INTERFERENCE) -> None:
        require(isinstance(every_n_steps, int) and every_n_steps >= 1, "callbacks.interference.every_n_steps",
                every_n_steps, "an integer >= 1")
        require(isinstance(pairs_per_distance, int) and pairs_per_distance >= 1,
                "callbacks.interference.pairs_per_distance", pairs_per_distance, "an integer >= 1")
        self.output_dir, self.every, self.pairs = Path(output_dir), every_n_steps, pairs_per_distance
        self.path = self.output_dir / filename
        self.generator = torch.Generator().manual_seed(int(seed))
        self.rows: list[tuple[Any, ...]] = []

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        space = pl_module.space
        require(space.is_chain, "search_space", type(space).__name__,
                "a chain space for the interference probe (it compares the operator at one layer across children)")
        require(len(space.decisions) >= 2, "callbacks.interference", "on",
                "a space with at least two decisions (pairs must share one operator and differ elsewhere)")

    # -- sampling ----------------------------------------------------------------------------------------------------
    def _randint(self, n: int) -> int:
        return int(torch.randint(n, (1,), generator=self.generator))

    def _pair(self, supernet: Supernet, layer: int, op: int, d: int) -> tuple[int, int] | None:
        """Two children using op `op` at `layer` (the same copy of it) and differing in exactly `d` other decisions."""
        space = supernet.space
        others = [i for i in range(len(space.decisions)) if i != layer and len(space.choices[i]) > 1]
        if d > len(others):
            return None
        for _ in range(20):
            a = [self._randint(len(c)) for c in space.choices]
            a[layer] = op
            b = list(a)
            for i in torch.randperm(len(others), generator=self.generator)[:d].tolist():
                j = others[i]
                b[j] = (a[j] + 1 + self._randint(len(space.choices[j]) - 1)) % len(space.choices[j])
            ia, ib = space.index(a), space.index(b)
            if supernet.routes[ia][layer + 1] == supernet.routes[ib][layer + 1]:
                return ia, ib
        return None

    # -- measuring ---------------------------------------------------------------------------------------------------
    @staticmethod
    def _probe_child(supernet: Supernet, child: int, layer: int, x: torch.Tensor, y: torch.Tensor,
                     params: list[torch.nn.Parameter]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features: list[torch.Tensor] = []
        loss = F.cross_entropy(supernet(x, child, features), y)
        grads = torch.autograd.grad(loss, params)
        return torch.cat([g.flatten() for g in grads]), features[layer].detach(), features[layer + 1].detach()

    @staticmethod
    def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(F.cosine_similarity(a.flatten(1), b.flatten(1), dim=1).mean())

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        step = trainer.global_step
        if step % self.every:
            return
        supernet: Supernet = pl_module.supernet
        space, (x, y) = supernet.space, batch
        rows = []
        with preserved_state(supernet), torch.enable_grad():
            for layer in range(len(space.decisions)):
                for op, op_name in enumerate(space.choices[layer]):
                    for d in range(1, len(space.decisions)):
                        for _ in range(self.pairs):
                            pair = self._pair(supernet, layer, op, d)
                            if pair is None:
                                continue
                            unit = supernet.unit(*supernet.routes[pair[0]][layer + 1])
                            params = [p for p in unit.parameters() if p.requires_grad]
                            if not params:
                                break  # a weightless op (pooling): no gradient to compare
                            ga, ia, oa = self._probe_child(supernet, pair[0], layer, x, y, params)
                            gb, ib, ob = self._probe_child(supernet, pair[1], layer, x, y, params)
                            rows.append((step, layer, op_name, space.name(pair[0]), space.name(pair[1]), d,
                                         float(F.cosine_similarity(ga, gb, dim=0)), self._cos(ia, ib),
                                         self._cos(oa, ob)))
        self.rows += rows
        if trainer.is_global_zero:
            write_csv(self.path, INTERFERENCE_HEADER, self.rows)
        for d in sorted({r[5] for r in rows}):
            pl_module.log(f"interference/grad_cos_d{d}", float(np.mean([r[6] for r in rows if r[5] == d])),
                          on_step=True, on_epoch=False)

    # -- summary -----------------------------------------------------------------------------------------------------
    def summary(self) -> dict[str, float]:
        return summarize(self.rows)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        summary = self.summary()
        if not summary or not trainer.is_global_zero:
            return
        write_json(self.output_dir / "interference_summary.json", summary)
        image = self._plot(self.output_dir / "interference.png")
        for logger in trainer.loggers:
            logger.log_metrics({f"interference/{k}": v for k, v in summary.items()}, step=trainer.global_step)
            if isinstance(logger, WandbLogger):
                logger.log_image("interference/plot", [str(image)])
        rank_zero_info("interference: " + ", ".join(f"{k}={v:.3f}" for k, v in summary.items()))

    def _plot(self, path: Path) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        d, g, i, o = (np.array([r[k] for r in self.rows], float) for k in (5, 6, 7, 8))
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        ks = sorted(set(d.tolist()))
        axes[0].boxplot([g[d == k] for k in ks], positions=ks)
        axes[0].set(xlabel="d (other decisions that differ)", ylabel="gradient cosine", title="similarity vs distance")
        for ax, x, name in ((axes[1], i, "input"), (axes[2], o, "output")):
            ax.scatter(x, g, s=6, alpha=0.4)
            ax.set(xlabel=f"{name} cosine", ylabel="gradient cosine", title=f"{name} vs gradient similarity")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def state_dict(self) -> dict[str, Any]:
        return {"rows": list(self.rows), "generator": self.generator.get_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = [tuple(r) for r in state_dict["rows"]]
        self.generator.set_state(state_dict["generator"])
