"""Data modules. Each exposes `shape` (a `DataShape`) before loading, for the network builders."""
from benchmark.data.base import ArrayDataModule
from benchmark.data.cifar10 import CIFAR10DataModule
from benchmark.data.digits import DigitsDataModule
from benchmark.data.mnist1d import MNIST1DDataModule

__all__ = ["ArrayDataModule", "CIFAR10DataModule", "DigitsDataModule", "MNIST1DDataModule"]
