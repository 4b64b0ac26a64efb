"""SupernetModule: the thin LightningModule around a supernet. Each step samples, forwards, steps; no file I/O."""
from __future__ import annotations

from typing import Any, Callable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from benchmark.samplers import Sampler
from benchmark.supernet import Supernet


class SupernetModule(pl.LightningModule):
    """Trains a supernet one sampled child (or a few) per optimizer step.

    Unsampled units get no gradient and keep `grad is None` (Lightning zeroes gradients with set_to_none), so SGD's
    momentum and weight decay skip them: a step on a child moves only the weights that child uses.
    """

    def __init__(
        self,
        supernet: Supernet,
        sampler: Sampler,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
    ) -> None:
        super().__init__()
        self.supernet, self.sampler = supernet, sampler
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler

    @property
    def space(self):
        return self.supernet.space

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        children = self.sampler.sample()
        loss = torch.zeros((), device=x.device)
        correct = 0
        for child in children:
            logits = self.supernet(x, child)
            loss = loss + F.cross_entropy(logits, y)
            correct += int((logits.argmax(dim=1) == y).sum())
        self.log("train/loss", loss / len(children), on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
        self.log("train/acc", correct / (len(y) * len(children)), on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer=optimizer),
                                                         "interval": "epoch"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["sampler"] = self.sampler.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.sampler.load_state_dict(checkpoint["sampler"])
