"""CIFAR-10 (Krizhevsky 2009) from its standard python batches, as in the weight-sharing NAS papers.

The files are read with pickle and numpy rather than torchvision: torchvision would need another torch build, and its
CIFAR10 class checks every file's md5, so it could never be tested on small files written by the tests. Nothing is
downloaded; missing files stop the run with a message saying where to get them. Training batches are augmented on
their device with the papers' random crop (4 pixels of black padding) and horizontal flip.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from benchmark.data.base import ArrayDataModule
from benchmark.errors import ConfigError, require
from benchmark.shape import DataShape

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
HOW_TO_GET = (f"download {URL} on a machine with network and extract it so that <root>/{FOLDER} exists, then pass "
              "data.root=<root> or set CIFAR10_ROOT=<root>")


def augment(x: Tensor, padding: int = 4, fill: Tensor | None = None,
            generator: torch.Generator | None = None) -> Tensor:
    """Per image: a random crop of the image padded by `padding` pixels of `fill` (per channel; default 0) on each
    side, then a horizontal flip with probability 1/2. One gather for the whole batch, on x's device; the offsets and
    flips are drawn on the CPU (from `generator`, default torch's global one), so a seeded run augments the same way
    on any device."""
    n, c, h, w = x.shape
    shift = torch.randint(0, 2 * padding + 1, (2, n, 1), generator=generator)
    flip = torch.rand(n, 1, generator=generator) < 0.5
    rows = shift[0] + torch.arange(h)
    cols = shift[1] + torch.where(flip, torch.arange(w - 1, -1, -1), torch.arange(w))  # flipping reverses the crop
    rows, cols = rows.to(x.device), cols.to(x.device)
    padded = F.pad(x, (padding,) * 4)
    if fill is not None:
        border = torch.ones(h + 2 * padding, w + 2 * padding, dtype=torch.bool, device=x.device)
        border[padding:padding + h, padding:padding + w] = False
        padded = torch.where(border, fill.to(x).view(1, c, 1, 1), padded)
    image, channel = torch.arange(n, device=x.device), torch.arange(c, device=x.device)
    return padded[image[:, None, None, None], channel[:, None, None], rows[:, None, :, None], cols[:, None, None, :]]


class CIFAR10DataModule(ArrayDataModule):
    """50,000 training images (`val_size` of them held out for ranking, chosen by `split_seed`) and 10,000 test
    images, normalised per channel with training-split statistics. `root` holds `cifar-10-batches-py/` or is it."""

    shape = DataShape(channels=3, length=32, num_classes=10, height=32)
    normalization_axes = (0, 2, 3)

    def __init__(self, root: str | os.PathLike | None = None, augment: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("batch_size", 256)
        kwargs.setdefault("val_size", 5000)
        kwargs.setdefault("eval_batch_size", 1000)
        super().__init__(**kwargs)
        require(isinstance(augment, bool), "data.augment", augment, "true or false")
        require(root is None or isinstance(root, (str, os.PathLike)), "data.root", root,
                f"the folder holding {FOLDER}/ (or null to use CIFAR10_ROOT)")
        self.root, self.augment = root, augment

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        folder = self._folder()
        train = [self._read(folder / name) for name in TRAIN_FILES]
        x_test, y_test = self._read(folder / TEST_FILE)
        x, y = np.concatenate([b[0] for b in train]), np.concatenate([b[1] for b in train])
        return np.divide(x, 255, dtype=np.float32), y, np.divide(x_test, 255, dtype=np.float32), y_test

    def train_transform(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The papers' crop and flip; the padding is black, as torchvision pads images before normalising."""
        return augment(x, fill=self.black, generator=generator) if self.augment else x

    @property
    def black(self) -> Tensor:
        """A black pixel after per-channel normalisation: -mean / std."""
        return torch.as_tensor(-self.mean / self.std, dtype=torch.float32).flatten()

    def _folder(self) -> Path:
        """`<root>/cifar-10-batches-py`, or `root` itself when it is that folder; every batch file must be there."""
        if not self.root:
            raise ConfigError("data.root", self.root, f"neither data.root nor CIFAR10_ROOT is set; {HOW_TO_GET}")
        root = Path(self.root).expanduser()
        folder = root / FOLDER if (root / FOLDER).is_dir() else root
        missing = [name for name in (*TRAIN_FILES, TEST_FILE) if not (folder / name).is_file()]
        if missing:
            looked = folder if folder != root else f"{root / FOLDER} and {root}"
            raise ConfigError("data.root", str(self.root), f"looked for the CIFAR-10 python batches in {looked}, "
                              f"missing {', '.join(missing)}; {HOW_TO_GET}")
        return folder

    def _read(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        """One batch: b"data" holds (N, 3072) uint8 rows, each the red, green and blue 32x32 planes in turn."""
        try:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            x, y = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"], dtype=np.int64)
            if x.dtype != np.uint8 or x.shape != (len(y), 3 * 32 * 32) or not np.all((y >= 0) & (y < 10)):
                raise ValueError(f"data is {x.dtype} {x.shape} with {len(y)} labels, "
                                 f"not uint8 (N, 3072) with N labels in 0..9")
        except Exception as e:  # pickle raises many types on a damaged file; all mean the same to the user
            raise ConfigError("data.root", str(self.root), f"{path} is not a readable CIFAR-10 python batch "
                              f"({type(e).__name__}: {e}); {HOW_TO_GET}") from e
        return x.reshape(-1, 3, 32, 32), y
