"""MNIST-1D (Greydanus 2020): 40-step 1-D digits, generated procedurally, so nothing is downloaded.

Architectures differ a lot on it (logistic ~32 %, MLP ~68 %, CNN ~94 %), which is what a ranking benchmark needs.
The generated arrays are cached as .npz under `cache_dir` (generation takes a few seconds).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from benchmark.data.base import ArrayDataModule
from benchmark.io import atomic_path
from benchmark.spaces import DataShape


class MNIST1DDataModule(ArrayDataModule):
    shape = DataShape(channels=1, length=40, num_classes=10)

    def __init__(self, cache_dir: str | os.PathLike | None = None, generator_seed: int = 42, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cache_dir, self.generator_seed = cache_dir, generator_seed

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cache = Path(self.cache_dir) / f"mnist1d_seed{self.generator_seed}.npz" if self.cache_dir else None
        if cache is not None and cache.exists():
            with np.load(cache) as d:
                return d["x"], d["y"], d["x_test"], d["y_test"]
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.seed = self.generator_seed
        d = make_dataset(args)
        arrays = {k: d[k] for k in ("x", "y", "x_test", "y_test")}
        arrays["x"], arrays["x_test"] = arrays["x"][:, None, :], arrays["x_test"][:, None, :]
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(cache) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **arrays)
        return arrays["x"], arrays["y"], arrays["x_test"], arrays["y_test"]
