"""Dimension-generic layers: one call builds the 1-D (sequence) or 2-D (image) version, so that one space definition
runs on MNIST-1D and on CIFAR-10."""
from __future__ import annotations

from torch import nn


def same_padding(kernel: int, dilation: int = 1) -> int:
    """Padding that keeps the length of an odd `kernel` at stride 1."""
    return dilation * (kernel - 1) // 2


def conv(dims: int, *args, **kwargs) -> nn.Module:
    return (nn.Conv1d if dims == 1 else nn.Conv2d)(*args, **kwargs)


def batchnorm(dims: int, channels: int, affine: bool, momentum: float = 0.1) -> nn.Module:
    return (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(channels, affine=affine, momentum=momentum)


def pool(dims: int, kind: str, *args, **kwargs) -> nn.Module:
    cls = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d}
    return cls[(kind, dims)](*args, **kwargs)
