"""Loop overhead: supernet steps through the LightningModule vs. a hand-written loop doing the same work, epochs
alternating; and Lightning's own per-step cost (a bare LightningModule doing the plain step)."""
from __future__ import annotations

import math
import statistics
from typing import Callable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.module import SupernetModule
from benchmark.supernet import Supernet
from experiments.perf.clock import timed_fit
from experiments.perf.recipe import Optimizer, Recipe

Step = Callable[[nn.Module, tuple], torch.Tensor]  # a network and a batch -> the loss to step on


class BareStep(pl.LightningModule):
    """The plain loop's step as a LightningModule (manual optimization, no metrics): what Lightning's own loop costs."""

    def __init__(self, net: nn.Module, step: Step, optimizer: Optimizer) -> None:
        super().__init__()
        self.net, self.step, self.optimizer = net, step, optimizer
        self.automatic_optimization = False

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(params=self.parameters())

    def training_step(self, batch: tuple, batch_idx: int) -> None:
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(self.step(self.net, batch))
        optimizer.step()


def _alternating(module: pl.LightningModule, plain_net: nn.Module, step: Step, optimizer: Optimizer,
                 dm: pl.LightningDataModule, epochs: int, device: torch.device) -> tuple[float, float, float]:
    """Lightning epochs of `module` alternating with plain-loop epochs of `plain_net` (Lightning, plain, Lightning,
    ...) so both see the same machine: median seconds per step of each, and the median ratio of adjacent pairs."""
    plain_net.to(device)
    plain_optimizer = optimizer(params=plain_net.parameters())

    def plain_epoch() -> None:
        for batch in dm.train_dataloader():
            loss = step(plain_net, [t.to(device) for t in batch])
            plain_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            plain_optimizer.step()

    pairs, steps = timed_fit(module, dm, epochs, device, between=plain_epoch), len(dm.train_dataloader())
    return (statistics.median(p[0] for p in pairs) / steps, statistics.median(p[1] for p in pairs) / steps,
            statistics.median(a / b for a, b in pairs))


def loop_overhead(recipe: Recipe, epochs: int, device: torch.device) -> dict[str, float]:
    """Supernet steps through SupernetModule vs. a hand-written loop doing the same sampling, forward, backward and
    step on the same batches; and, to tell Lightning's own per-step cost from the module's, a bare LightningModule
    doing exactly the plain step, on the supernet and on a linear model (where the step itself costs almost nothing).
    """
    dm, space, sgd = recipe.data, recipe.space(), recipe.optimizer
    results: dict[str, float] = {}

    def supernet() -> tuple[Supernet, Step]:
        torch.manual_seed(recipe.cfg.seed)
        sampler = recipe.sampler(space)
        net = Supernet(space, recipe.sharing(), dm.shape)
        return net, lambda n, b: F.cross_entropy(n(b[0], sampler.sample()[0]), b[1])

    net, _ = supernet()
    module = SupernetModule(net, recipe.sampler(space), sgd)
    lightning, plain, ratio = _alternating(module, *supernet(), sgd, dm, epochs, device)
    results.update(lightning_steps_per_s=1 / lightning, plain_steps_per_s=1 / plain, overhead_ratio=ratio)
    bare, plain, ratio = _alternating(BareStep(*supernet(), sgd), *supernet(), sgd, dm, epochs, device)
    results.update(bare_lightning_ratio=ratio)

    def linear() -> tuple[nn.Module, Step]:
        torch.manual_seed(recipe.cfg.seed)
        net = nn.Linear(math.prod(dm.shape.input_size), dm.shape.num_classes)
        return net, lambda n, b: F.cross_entropy(n(b[0].flatten(1)), b[1])

    bare, plain, _ = _alternating(BareStep(*linear(), sgd), *linear(), sgd, dm, epochs, device)
    results.update(lightning_step_cost_ms=(bare - plain) * 1e3, linear_plain_step_ms=plain * 1e3)
    return results
