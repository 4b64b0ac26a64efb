"""scikit-learn's 8x8 digits (1,797 images, shipped with the package), read as 64-step 1-D signals."""
from __future__ import annotations

import numpy as np

from benchmark.data.base import ArrayDataModule
from benchmark.errors import is_int, require
from benchmark.shape import DataShape


class DigitsDataModule(ArrayDataModule):
    shape = DataShape(channels=1, length=64, num_classes=10)

    def __init__(self, test_size: int = 360, **kwargs) -> None:
        kwargs.setdefault("val_size", 360)
        super().__init__(**kwargs)
        require(is_int(test_size) and 1 <= test_size < 1797, "data.test_size", test_size,
                "an integer from 1 to 1,796 (of the 1,797 images; data.val_size is then taken from the rest)")
        self.test_size = test_size

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        x = x.astype(np.float32)[:, None, :] / 16.0
        # A fixed test split (seed 0 of its own), independent of split_seed, so test numbers are comparable.
        order = np.random.default_rng(0).permutation(len(x))
        test, train = np.sort(order[: self.test_size]), np.sort(order[self.test_size:])
        return x[train], y[train], x[test], y[test]
