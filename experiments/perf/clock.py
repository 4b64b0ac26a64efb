"""Timing on a noisy machine: seconds of work done (queued GPU work included), and Lightning epochs timed start to
start so that every epoch-end hook counts."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import pytorch_lightning as pl
import torch


def synchronize() -> None:
    """Wait for queued GPU work, so that a host clock reads work done rather than work launched (CPU: no-op)."""
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()


def times(fn: Callable[[], object], repeats: int) -> list[float]:
    """Seconds of each of `repeats` calls of `fn`."""
    spent = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        fn()
        synchronize()
        spent.append(time.perf_counter() - start)
    return spent


def median_time(fn: Callable[[], object], repeats: int) -> float:
    return statistics.median(times(fn, repeats))


def accelerator(device: torch.device) -> str:
    """Lightning's (and conf/trainer's) name for `device`."""
    return "gpu" if device.type == "cuda" else "cpu"


class EpochClock(pl.Callback):
    """Lightning epochs timed start to start (so every epoch-end hook counts), with `between` (if given) run and timed
    before each one: a baseline measured seconds apart from the epoch it is compared with."""

    def __init__(self, between: Callable[[], object] | None = None) -> None:
        self.between, self.mark, self.last = between, None, 0.0
        self.pairs: list[tuple[float, float]] = []  # (Lightning epoch, baseline run before it)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._close()
        self.last = times(self.between, 1)[0] if self.between is not None else 0.0
        synchronize()
        self.mark = time.perf_counter()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._close()

    def _close(self) -> None:
        if self.mark is not None:
            synchronize()
            self.pairs.append((time.perf_counter() - self.mark, self.last))


def timed_fit(module: pl.LightningModule, dm: pl.LightningDataModule, epochs: int, device: torch.device,
              between: Callable[[], object] | None = None) -> list[tuple[float, float]]:
    """`epochs` timed epochs through a fresh Trainer (plus a first one, dropped: it pays for warm-up). Lightning moves
    the module back to the CPU when fit ends."""
    clock = EpochClock(between)
    pl.Trainer(max_epochs=epochs + 1, accelerator=accelerator(device), devices=1, logger=False,
               enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
               callbacks=[clock]).fit(module, datamodule=dm)
    return clock.pairs[1:]
