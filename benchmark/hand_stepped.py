"""HandStepped: a LightningModule that takes one optimizer step per batch by hand. Its own module because the
supernet module and the stacked standalone children (ground truth) both train with it."""
from __future__ import annotations

from typing import Any, Callable, Iterator

import pytorch_lightning as pl
import torch


class HandStepped(pl.LightningModule):
    """One optimizer step per batch, done by hand: Lightning's automatic loop (closures, profiler records) costs a
    tenth of a step of the default supernet. Subclasses define `loss(batch)`; the schedule steps once per epoch.
    The weights are identical to a plain PyTorch loop (tested)."""

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer],
                 scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler

    def configure_optimizers(self) -> Any:
        """The config-built factories; the schedule steps per epoch (in on_train_epoch_end)."""
        opt = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer=opt),
                                                   "interval": "epoch"}}

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def losses(self, batch: tuple[torch.Tensor, torch.Tensor]) -> Iterator[torch.Tensor]:
        """The step's loss in parts whose gradients add up; each part is back-propagated as soon as it is yielded,
        so only one part's activations are alive at a time. One part by default."""
        yield self.loss(batch)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        parts = []
        for loss in self.losses(batch):
            self.manual_backward(loss)
            parts.append(loss.detach())
        optimizer.step()
        return torch.stack(parts).sum()

    def on_train_epoch_end(self) -> None:
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()
