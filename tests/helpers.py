"""Callbacks that tests add to real runs from the command line (`+callbacks.x._target_=tests.helpers.X`)."""
import os
import signal

import pytorch_lightning as pl
import torch


class KillAt(pl.Callback):
    """SIGKILL this process at global step `step`: a preempted job, mid-epoch, with no chance to clean up."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class PoisonAt(pl.Callback):
    """Put a NaN into the head's weights at global step `step`: the loss turns NaN, as in a diverging run."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            with torch.no_grad():
                for p in pl_module.supernet.head.parameters():
                    p.fill_(float("nan"))
