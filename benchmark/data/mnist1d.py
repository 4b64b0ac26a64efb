"""MNIST-1D (Greydanus 2020): 40-step 1-D digits, generated procedurally, so nothing is downloaded.

Architectures differ a lot on it (logistic ~32 %, MLP ~68 %, CNN ~94 %), which is what a ranking benchmark needs.
The generated arrays are cached as .npz under `cache_dir` (generation takes a few seconds). A damaged cache file stops
the run with its name rather than being used or silently replaced.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from benchmark.data.base import ArrayDataModule
from benchmark.errors import ConfigError, require, require_seed
from benchmark.io import atomic_path
from benchmark.shape import DataShape

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class MNIST1DDataModule(ArrayDataModule):
    shape = DataShape(channels=1, length=40, num_classes=10)

    def __init__(self, cache_dir: str | os.PathLike | None = None, generator_seed: int = 42, **kwargs) -> None:
        kwargs.setdefault("val_size", 800)  # of the 4,000 training sequences
        super().__init__(**kwargs)
        require(cache_dir is None or isinstance(cache_dir, (str, os.PathLike)), "data.cache_dir", cache_dir,
                "a folder path, or null to generate the data every run")
        require_seed("data.generator_seed", generator_seed)
        self.cache_dir, self.generator_seed = cache_dir, generator_seed

    def load_arrays(self) -> Arrays:
        cache = Path(self.cache_dir) / f"mnist1d_seed{self.generator_seed}.npz" if self.cache_dir else None
        if cache is not None and cache.exists():
            return self._read_cache(cache)
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

    def _read_cache(self, cache: Path) -> Arrays:
        """The cached arrays, checked for the shapes we wrote; a file damaged on disk is named, never trained on."""
        try:
            with np.load(cache) as d:
                x, y, x_test, y_test = d["x"], d["y"], d["x_test"], d["y_test"]
            example = (self.shape.channels, self.shape.length)
            if x.shape[1:] != example or x_test.shape[1:] != example or (len(y), len(y_test)) != (len(x), len(x_test)):
                raise ValueError(f"arrays of shapes {x.shape}, {y.shape}, {x_test.shape}, {y_test.shape}")
        except Exception as e:  # a damaged .npz raises zip, pickle, key or value errors alike
            raise ConfigError("data.cache_dir", str(self.cache_dir),
                              f"{cache} is damaged ({type(e).__name__}: {str(e).split('. ')[0]}); delete that file "
                              "and rerun to generate it again") from e
        return x, y, x_test, y_test
