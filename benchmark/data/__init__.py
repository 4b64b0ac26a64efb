"""Data modules. Each exposes `shape` (channels, length, classes) before loading, for the network builders."""
from benchmark.data.base import ArrayDataModule
from benchmark.data.digits import DigitsDataModule
from benchmark.data.mnist1d import MNIST1DDataModule

__all__ = ["ArrayDataModule", "DigitsDataModule", "MNIST1DDataModule"]
