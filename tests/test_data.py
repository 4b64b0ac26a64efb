import numpy as np
import pytest
import torch

from benchmark.data import DigitsDataModule, MNIST1DDataModule
from benchmark.errors import ConfigError


def test_mnist1d_splits_are_disjoint_fixed_and_cached(cache_dir):
    dm = MNIST1DDataModule(cache_dir=cache_dir)
    dm.setup()
    assert dm.split_info() == {"dataset": "MNIST1DDataModule", "split_seed": 0, "train_size": 3200,
                               "val_size": 800, "test_size": 1000}
    assert list((cache_dir).glob("mnist1d_seed42.npz"))
    train, val = dm.splits["train"].tensors[0], dm.splits["val"].tensors[0]
    rows = {tuple(r.tolist()) for r in train.flatten(1)}
    assert not any(tuple(r.tolist()) in rows for r in val.flatten(1))
    again = MNIST1DDataModule(cache_dir=cache_dir)
    again.setup()
    assert torch.equal(again.splits["val"].tensors[0], val)
    other = MNIST1DDataModule(cache_dir=cache_dir, split_seed=1)
    other.setup()
    assert not torch.equal(other.splits["val"].tensors[0], val)


def test_loaders_batch_whole_index_sets(cache_dir):
    dm = MNIST1DDataModule(cache_dir=cache_dir, batch_size=100)
    dm.setup()
    batches = list(dm.train_dataloader())
    assert len(batches) == 32 and batches[0][0].shape == (100, 1, 40) and batches[0][1].dtype == torch.long
    assert sum(len(y) for _, y in dm.val_dataloader()) == 800
    calib = dm.calibration_inputs(3)
    assert [c.shape[0] for c in calib] == [100] * 3
    assert all(torch.equal(a, b) for a, b in zip(calib, dm.calibration_inputs(3)))


def test_digits():
    dm = DigitsDataModule()
    dm.setup()
    assert dm.split_info()["train_size"] + 360 + 360 == 1797
    x, y = dm.splits["train"].tensors
    assert x.shape[1:] == (1, 64) and set(np.unique(y.numpy())) == set(range(10))


def test_bad_split_sizes():
    with pytest.raises(ConfigError):
        MNIST1DDataModule(batch_size=0)
    dm = DigitsDataModule(val_size=5000)
    with pytest.raises(ConfigError, match="data.val_size"):
        dm.setup()
