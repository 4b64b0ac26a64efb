"""The chain spaces' candidate operations on 1-D signals (batch, channels, length); every op keeps the shape."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.spaces.ops.layers import same_padding


def conv_bn_relu(channels: int, kernel: int, dilation: int = 1, affine: bool = False) -> nn.Sequential:
    """Conv-BN-ReLU with 'same' padding. BatchNorm is affine-free by default, as in Deeper Insights."""
    return nn.Sequential(
        nn.Conv1d(channels, channels, kernel, padding=same_padding(kernel, dilation), dilation=dilation, bias=False),
        nn.BatchNorm1d(channels, affine=affine),
        nn.ReLU(inplace=True),
    )


class SegmentMean(nn.Module):
    """Average over `segments` equal segments of the sequence; several times faster than AdaptiveAvgPool1d on CPU
    when the length divides evenly (it falls back to it otherwise)."""

    def __init__(self, segments: int) -> None:
        super().__init__()
        self.segments = segments

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        if length % self.segments:
            return F.adaptive_avg_pool1d(x, self.segments)
        return x.unflatten(-1, (self.segments, length // self.segments)).mean(-1)


OPS: dict[str, Callable[[int, bool], nn.Module]] = {
    "conv1": lambda c, affine: conv_bn_relu(c, 1, affine=affine),
    "conv3": lambda c, affine: conv_bn_relu(c, 3, affine=affine),
    "conv5": lambda c, affine: conv_bn_relu(c, 5, affine=affine),
    "dilconv3": lambda c, affine: conv_bn_relu(c, 3, dilation=2, affine=affine),
    # Same parameters and FLOPs as conv3, wider receptive fields: the capacity control's ops.
    "dil4conv3": lambda c, affine: conv_bn_relu(c, 3, dilation=4, affine=affine),
    "dil8conv3": lambda c, affine: conv_bn_relu(c, 3, dilation=8, affine=affine),
    "maxpool3": lambda c, affine: nn.MaxPool1d(3, stride=1, padding=1),
    "avgpool3": lambda c, affine: nn.AvgPool1d(3, stride=1, padding=1, count_include_pad=False),
    "skip": lambda c, affine: nn.Identity(),
}
