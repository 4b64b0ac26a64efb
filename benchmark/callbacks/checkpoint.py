"""EpochCheckpoint: `last.ckpt` after every training epoch, the one before kept as `previous.ckpt`.

Lightning's ModelCheckpoint with `save_top_k=0` writes `last.ckpt` only when training ends, so a killed run had nothing
to resume from. This one saves after every epoch, after the epoch's ranking is written and the schedule has stepped
(Lightning runs checkpoint callbacks after the module's epoch-end hook). The epoch's metrics reach `metrics.csv` only
after that, so a kill right after the save can leave `last.ckpt` one epoch ahead of `metrics.csv`; resuming then starts
from `previous.ckpt` (`benchmark/resume.py` picks the newest checkpoint every file of the run has caught up with).
A checkpoint is written beside `last.ckpt` under a temporary name and renamed onto it once complete (Lightning's own
save goes through the system's temporary folder and may end in a copy), and `last.ckpt` becomes `previous.ckpt` by one
rename first, so a kill leaves whole files only: at worst `previous.ckpt` alone, one epoch back.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Checkpoint

LAST, PREVIOUS, PARTIAL = "last.ckpt", "previous.ckpt", ".last.ckpt.partial"


class EpochCheckpoint(Checkpoint):
    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        last, partial = self.dirpath / LAST, self.dirpath / PARTIAL
        # Computing the epoch's synced metrics is a collective that rank 0's progress bar has already entered; every
        # rank must do it before the save's barrier, as Lightning's ModelCheckpoint does (else DDP deadlocks).
        _ = trainer.callback_metrics
        # Every rank builds the checkpoint (per-rank sampler states are gathered); rank 0 writes it and renames.
        trainer.save_checkpoint(partial)
        if trainer.is_global_zero:
            if last.is_file():
                os.replace(last, self.dirpath / PREVIOUS)
            os.replace(partial, last)
