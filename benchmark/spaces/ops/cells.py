"""The cell spaces' ops and fixed blocks, for sequences (dims 1) or images (dims 2): NAS-Bench-201's as its benchmark
builds them, Deeper Insights' as the authors' code does (ultmaster/deeper-insights-weight-sharing @2a7f852, ops.py).

An op table maps an op's name to its builder, called with (dims, channels, the space's BatchNorm setting); every op
keeps its input's shape.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from benchmark.spaces.ops.layers import batchnorm, conv, pool, same_padding

#: (dims, channels, BatchNorm setting: NAS-Bench-201's affine flag, Deeper Insights' momentum) -> the op.
OpBuilder = Callable[[int, int, bool | float], nn.Module]


def relu_conv_bn(dims: int, c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1,
                 groups: int = 1, affine: bool = True, momentum: float = 0.1) -> nn.Sequential:
    """ReLU -> Conv (no bias, 'same' padding) -> BN. ReLU is not in place: a node feeds several edges."""
    return nn.Sequential(nn.ReLU(), conv(dims, c_in, c_out, kernel, stride, same_padding(kernel, dilation), dilation,
                                         groups=groups, bias=False), batchnorm(dims, c_out, affine, momentum))


class Zero(nn.Module):
    """The 'none' op: the edge is absent (multiplying keeps the graph and the device)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class GlobalPoolHead(nn.Module):
    """Global average pooling over every spatial axis, then a linear classifier."""

    def __init__(self, channels: int, num_classes: int, pre: nn.Module | None = None) -> None:
        super().__init__()
        self.pre = pre if pre is not None else nn.Identity()
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pre(x).flatten(2).mean(-1))


# -- NAS-Bench-201 -------------------------------------------------------------------------------------------------
#: Its five ops, in the benchmark's order; the setting is whether BatchNorm is affine.
NB201_OPS: dict[str, OpBuilder] = {
    "none": lambda dims, c, affine: Zero(),
    "skip_connect": lambda dims, c, affine: nn.Identity(),
    "nor_conv_1x1": lambda dims, c, affine: relu_conv_bn(dims, c, c, 1, affine=affine),
    "nor_conv_3x3": lambda dims, c, affine: relu_conv_bn(dims, c, c, 3, affine=affine),
    "avg_pool_3x3": lambda dims, c, affine: pool(dims, "avg", 3, 1, 1, count_include_pad=False),
}


class ResNetBlock(nn.Module):
    """NAS-Bench-201's reduction block: two ReLU-Conv-BN 3x3 (the first with stride 2) plus an
    average-pool + 1x1-conv shortcut."""

    def __init__(self, dims: int, c_in: int, c_out: int, affine: bool) -> None:
        super().__init__()
        self.conv_a = relu_conv_bn(dims, c_in, c_out, 3, stride=2, affine=affine)
        self.conv_b = relu_conv_bn(dims, c_out, c_out, 3, affine=affine)
        self.downsample = nn.Sequential(pool(dims, "avg", 2, 2, 0), conv(dims, c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


# -- Deeper Insights -----------------------------------------------------------------------------------------------
def depthwise_pointwise(dims: int, c: int, kernel: int, dilation: int, momentum: float) -> list[nn.Module]:
    """ReLU -> depthwise conv -> 1x1 conv -> affine-free BN."""
    return [nn.ReLU(), conv(dims, c, c, kernel, 1, same_padding(kernel, dilation), dilation, groups=c, bias=False),
            conv(dims, c, c, 1, bias=False), batchnorm(dims, c, False, momentum)]


def separable(dims: int, c: int, kernel: int, momentum: float) -> nn.Sequential:
    """A separable conv: depthwise-pointwise twice."""
    return nn.Sequential(*depthwise_pointwise(dims, c, kernel, 1, momentum),
                         *depthwise_pointwise(dims, c, kernel, 1, momentum))


#: Its four DARTS ops, in the paper's digit order (1-4); the setting is BatchNorm's momentum.
DEEPER_INSIGHTS_OPS: dict[str, OpBuilder] = {
    "max_pool_3x3": lambda dims, c, momentum: nn.Sequential(pool(dims, "max", 3, 1, 1),
                                                            batchnorm(dims, c, False, momentum)),
    "sep_conv_3x3": lambda dims, c, momentum: separable(dims, c, 3, momentum),
    "sep_conv_5x5": lambda dims, c, momentum: separable(dims, c, 5, momentum),
    "dil_conv_5x5": lambda dims, c, momentum: nn.Sequential(*depthwise_pointwise(dims, c, 5, 2, momentum)),
}
