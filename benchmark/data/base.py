"""In-memory datasets as LightningDataModules with train / validation / test splits.

Small benchmarks spend more time collating single samples than computing, so loaders hand whole index batches to
`TensorDataset` (one tensor gather per batch). The validation split is carved from the official training set with
`split_seed`, which is independent of the run's seed: every seed of a study ranks children on the same held-out data.
`val_size=0` keeps every training example for training (as Deeper Insights does, ranking on the test set).
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from benchmark.errors import is_int, require, require_seed
from benchmark.shape import DataShape


class ArrayDataModule(pl.LightningDataModule):
    """Subclasses provide `load_arrays()`: (x_train, y_train, x_test, y_test) with x shaped (N, channels, length),
    or (N, channels, height, width) for images."""

    shape: DataShape
    #: Axes of (N, channels, ...) that share one normalisation mean/std: None = one scalar for everything;
    #: CIFAR-10 uses (0, 2, 3), one per channel, since colour channels differ in brightness and spread.
    normalization_axes: tuple[int, ...] | None = None

    def __init__(self, val_size: int, batch_size: int = 128, split_seed: int = 0,
                 eval_batch_size: int = 400) -> None:
        super().__init__()
        require(is_int(batch_size) and batch_size >= 1, "data.batch_size", batch_size, "an integer >= 1")
        require(is_int(eval_batch_size) and eval_batch_size >= 1, "data.eval_batch_size", eval_batch_size,
                "an integer >= 1")
        require(is_int(val_size) and val_size >= 0, "data.val_size", val_size,
                "an integer >= 0 (0 trains on every training example; rank on callbacks.ranking.split=test then)")
        require_seed("data.split_seed", split_seed)
        self.batch_size, self.val_size, self.split_seed = batch_size, val_size, split_seed
        self.eval_batch_size = eval_batch_size
        self.splits: dict[str, TensorDataset] = {}

    @abstractmethod
    def load_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        x, y, x_test, y_test = self.load_arrays()
        require(self.val_size < len(x), "data.val_size", self.val_size,
                f"fewer than the {len(x)} training examples")
        order = np.random.default_rng(self.split_seed).permutation(len(x))
        val, train = order[: self.val_size], np.sort(order[self.val_size:])
        axes = self.normalization_axes  # normalise with training statistics only
        mean, std = x[train].mean(axis=axes, keepdims=True), x[train].std(axis=axes, keepdims=True)
        self.mean, self.std = mean, std

        def tensors(xs: np.ndarray, ys: np.ndarray) -> TensorDataset:
            return TensorDataset(torch.as_tensor((xs - mean) / std, dtype=torch.float32),
                                 torch.as_tensor(ys, dtype=torch.long))

        self.splits = {"train": tensors(x[train], y[train]), "val": tensors(x[np.sort(val)], y[np.sort(val)]),
                       "test": tensors(x_test, y_test)}

    def train_transform(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augmentation of a training batch, on its device (none by default), drawing from `generator` (default:
        the global RNG). Validation, test and BatchNorm calibration inputs are never transformed."""
        return x

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if self.trainer is not None and self.trainer.training:
            x, y = batch
            return self.train_transform(x), y
        return batch

    def split_info(self) -> dict[str, Any]:
        """What a ranking snapshot records about the data it was measured on."""
        return {"dataset": type(self).__name__, "split_seed": self.split_seed,
                **{f"{k}_size": len(v) for k, v in self.splits.items()}}

    def _loader(self, split: str, batch_size: int, shuffle: bool,
                generator: torch.Generator | None = None) -> DataLoader:
        ds = self.splits[split]
        order = RandomSampler(ds, generator=generator) if shuffle else SequentialSampler(ds)
        return DataLoader(ds, sampler=BatchSampler(order, batch_size, drop_last=False), batch_size=None)

    def train_dataloader(self, generator: torch.Generator | None = None) -> DataLoader:
        """Shuffled training batches; by default from the global RNG (seeded by the run), or from `generator`
        when a caller needs the same batch order elsewhere (ground truth trains every child on one order per seed)."""
        return self._loader("train", self.batch_size, shuffle=True, generator=generator)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False)

    def calibration_inputs(self, batches: int) -> list[torch.Tensor]:
        """`batches` fixed training batches for BatchNorm re-calibration: the same for every child and every epoch."""
        x = self.splits["train"].tensors[0]
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.split_seed))
        return [x[order[i * self.batch_size:(i + 1) * self.batch_size]] for i in range(batches)
                if i * self.batch_size < len(x)]
