"""Deeper Insights' 64-child space (Zhang et al., 2020) as a cell space: its cell, macro skeleton and child names; its
ops are in benchmark/spaces/ops/cells.py."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from benchmark.errors import is_int, is_number, require
from benchmark.spaces.base import MAX_DEPTH, MAX_WIDTH, Arch, DataShape, UnitCall, checked_ops
from benchmark.spaces.cells import CellSpace
from benchmark.spaces.ops.cells import DEEPER_INSIGHTS_OPS, GlobalPoolHead, relu_conv_bn
from benchmark.spaces.ops.layers import batchnorm, conv


class DeeperInsightsSpace(CellSpace):
    """The 64-child space of Deeper Insights (Zhang et al., 2020) as the authors' released code builds it
    (ultmaster/deeper-insights-weight-sharing @2a7f852: models/search_cnn.py, search_cells.py, ops.py).

    A 3-node cell (edges 0->1, 0->2, 1->2), each edge one of max_pool_3x3, sep_conv_3x3, sep_conv_5x5, dil_conv_5x5;
    4 stacked cells that use the chosen cell, at full resolution (no reductions), each reading only the previous cell's
    output through ReLU - 1x1 conv to `channels` - BN; node 1 = op01(x), node 2 = op02(x) + op12(node 1); the cell's
    output concatenates nodes 1 and 2 (2 x `channels`). Stem: 3x3 conv to `stem_channels` - BN - 3x3 conv - BN, affine
    BN and no ReLU; head: global average pooling + linear. Ops: max_pool_3x3 = max-pool then BN; sep_conv = twice
    (ReLU, depthwise conv, 1x1 conv, BN); dil_conv_5x5 = ReLU, depthwise 5x5 with dilation 2, 1x1 conv, BN. Every BN in
    the cells is affine-free; every BN has momentum `bn_momentum` (0.4, PyTorch's convention). On CIFAR-10 a child
    has 24,858 parameters plus 4 x those of its three ops (0 / 800 / 1,312 / 656): '111' 24,858, '434' 35,354 (tested);
    on MNIST-1D the same network in 1-D. Children are named by digits 1-4 per edge, '111' ... '444', as in the paper.
    """

    def __init__(self, channels: int = 16, stem_channels: int = 48, cells: int = 4,
                 ops: Sequence[str] = tuple(DEEPER_INSIGHTS_OPS), bn_momentum: float = 0.4) -> None:
        for key, value, limit in (("channels", channels, MAX_WIDTH // 2), ("stem_channels", stem_channels, MAX_WIDTH)):
            require(is_int(value) and 1 <= value <= limit, f"search_space.{key}", value,
                    f"an integer from 1 to {limit:,}")
        require(is_int(cells) and 1 <= cells <= MAX_DEPTH, "search_space.cells", cells,
                f"an integer from 1 to {MAX_DEPTH:,}")
        require(is_number(bn_momentum) and 0 < bn_momentum <= 1, "search_space.bn_momentum", bn_momentum,
                "a number in (0, 1]: the weight of each new batch in BatchNorm's running statistics")
        ops = checked_ops(ops, DEEPER_INSIGHTS_OPS)  # at most 4: names are one digit per edge
        super().__init__(3, ops, ["stem", *range(cells), "head"])
        self.channels, self.stem_channels, self.bn_momentum = channels, stem_channels, float(bn_momentum)

    def cell_channels(self, cell: int) -> int:
        return self.channels

    def cell_inputs(self, cell: int) -> list[str]:
        return [f"cells.{cell}.pre"]

    def cell_output(self, nodes: list[torch.Tensor], call: UnitCall, k: int) -> torch.Tensor:
        return torch.cat(nodes[1:], dim=1)

    def build_op(self, op: str, channels: int, dims: int) -> nn.Module:
        return DEEPER_INSIGHTS_OPS[op](dims, channels, self.bn_momentum)

    def build_fixed(self, unit: str, shape: DataShape) -> nn.Module:
        c, stem, dims = self.channels, self.stem_channels, shape.dims
        if unit == "stem":
            return nn.Sequential(conv(dims, shape.channels, stem, 3, padding=1, bias=False),
                                 batchnorm(dims, stem, True, self.bn_momentum),
                                 conv(dims, stem, stem, 3, padding=1, bias=False),
                                 batchnorm(dims, stem, True, self.bn_momentum))
        if unit == "head":
            return GlobalPoolHead(2 * c, shape.num_classes)
        cell = int(unit.split(".")[1])  # cells.<c>.pre
        return relu_conv_bn(dims, stem if cell == 0 else 2 * c, c, 1, affine=False, momentum=self.bn_momentum)

    def name(self, index: int) -> str:
        return "".join(str(d + 1) for d in self.arch(index))

    def parse(self, name: str) -> Arch:
        """'142' -> (0, 3, 1): one digit 1..len(ops) per edge."""
        if len(name) != len(self.edges) or not name.isdigit():
            raise ValueError(f"child name {name!r} is not {len(self.edges)} digits 1-{len(self.ops)} (e.g. '111')")
        arch = tuple(int(ch) - 1 for ch in name)
        self.index(arch)
        return arch
