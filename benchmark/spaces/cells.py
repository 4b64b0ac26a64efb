"""Cell spaces: a child picks one op per edge of a small DAG (the cell); the network stacks copies of that cell.

Node 0 is the cell's input and node j sums op_{i->j}(node i) over i < j, edges ordered by target then source (the
order of NAS-Bench-201's arch strings). Every stacked cell has its own weights - units 'cells.<c>.e<i><j>.<op>' - and
all of them use the chosen ops (one decision per edge, not per cell). Ops are built for 1-D or 2-D data, so the papers'
spaces run on CIFAR-10 and, for CI and laptops, on MNIST-1D.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Sequence

import torch
from torch import nn

from benchmark.errors import is_int, is_number, require
from benchmark.spaces.base import MAX_DEPTH, MAX_WIDTH, Arch, DataShape, SearchSpace, UnitCall, checked_ops

Layout = list[str | int]  # fixed units by name, stacked cells by index, in forward order


def conv(dims: int, *args, **kwargs) -> nn.Module:
    return (nn.Conv1d if dims == 1 else nn.Conv2d)(*args, **kwargs)


def batchnorm(dims: int, channels: int, affine: bool, momentum: float = 0.1) -> nn.Module:
    return (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(channels, affine=affine, momentum=momentum)


def pool(dims: int, kind: str, *args, **kwargs) -> nn.Module:
    cls = {("max", 1): nn.MaxPool1d, ("max", 2): nn.MaxPool2d, ("avg", 1): nn.AvgPool1d, ("avg", 2): nn.AvgPool2d}
    return cls[(kind, dims)](*args, **kwargs)


def relu_conv_bn(dims: int, c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1,
                 groups: int = 1, affine: bool = True, momentum: float = 0.1) -> nn.Sequential:
    """ReLU -> Conv (no bias, 'same' padding) -> BN. ReLU is not in place: a node feeds several edges."""
    return nn.Sequential(nn.ReLU(), conv(dims, c_in, c_out, kernel, stride, dilation * (kernel - 1) // 2, dilation,
                                         groups=groups, bias=False), batchnorm(dims, c_out, affine, momentum))


class Zero(nn.Module):
    """The 'none' op: the edge is absent (multiplying keeps the graph and the device)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class CellSpace(SearchSpace):
    """A space of cells with `nodes` nodes; subclasses give the ops, the macro layout and the fixed units."""

    def __init__(self, nodes: int, ops: Sequence[str], layout: Layout, **kwargs) -> None:
        self.edges = [(i, j) for j in range(1, nodes) for i in range(j)]
        super().__init__([f"edge{i}{j}" for i, j in self.edges], [list(ops)] * len(self.edges), **kwargs)
        self.nodes, self.ops, self.layout = nodes, list(ops), layout
        self.num_cells = sum(isinstance(item, int) for item in layout)
        self._slots: list[list[str]] = []
        self._decision: list[int | None] = []  # which decision picks the unit at each path position
        for item in layout:
            if isinstance(item, str):
                self._slots.append([item])
                self._decision.append(None)
                continue
            for unit in self.cell_inputs(item):
                self._slots.append([unit])
                self._decision.append(None)
            for e, (i, j) in enumerate(self.edges):
                self._slots.append([f"cells.{item}.e{i}{j}.{op}" for op in self.ops])
                self._decision.append(e)
            for unit in self.cell_tail(item):
                self._slots.append([unit])
                self._decision.append(None)

    # -- structure -------------------------------------------------------------------------------------------------
    def cell_inputs(self, cell: int) -> list[str]:
        """Fixed units a cell applies, in order, to its input before the edges read it (none: the input is node 0)."""
        return []

    def cell_tail(self, cell: int) -> list[str]:
        """Fixed units a cell applies to its nodes after the edges (none: the output is the last node)."""
        return []

    def cell_output(self, nodes: list[torch.Tensor], call: UnitCall, k: int) -> torch.Tensor:
        """The cell's output from its nodes; `k` is the path position of the first unit of `cell_tail`."""
        return nodes[-1]

    @property
    def num_layers(self) -> int:
        return self.num_cells

    def slots(self) -> list[list[str]]:
        return [list(s) for s in self._slots]

    def unit_names(self) -> list[str]:
        return [u for s in self._slots for u in s]

    def path(self, arch: Arch) -> list[str]:
        return [s[0] if d is None else s[arch[d]] for s, d in zip(self._slots, self._decision)]

    def depth(self, unit: str) -> int:
        """stem 0, cell c (its edges and tail) c + 1, head num_cells + 1; a fixed unit between cells (a reduction
        block) takes the depth of the cell after it, so 'share the first k cells' shares what feeds them."""
        if unit.startswith("cells."):
            return int(unit.split(".")[1]) + 1
        if unit == "stem":
            return 0
        position = self.layout.index(unit)
        later = [item for item in self.layout[position:] if isinstance(item, int)]
        return later[0] + 1 if later else self.num_cells + 1

    def check_data(self, shape: DataShape) -> None:
        require(shape.dims in (1, 2), "data", shape.input_size, "1-D sequences or 2-D images")

    def run(self, x: torch.Tensor, call: UnitCall, features: list[torch.Tensor] | None = None) -> torch.Tensor:
        k = 0
        for position, item in enumerate(self.layout):
            if isinstance(item, str):
                x = call(k, x)
                k += 1
            else:
                for _ in self.cell_inputs(item):
                    x = call(k, x)
                    k += 1
                nodes: list[torch.Tensor | None] = [x] + [None] * (self.nodes - 1)
                for e, (i, j) in enumerate(self.edges):
                    h = call(k + e, nodes[i])
                    nodes[j] = h if nodes[j] is None else nodes[j] + h
                k += len(self.edges)
                x = self.cell_output(nodes, call, k)
                k += len(self.cell_tail(item))
            if features is not None and position < len(self.layout) - 1:
                features.append(x)
        return x

    # -- modules ---------------------------------------------------------------------------------------------------
    def build_unit(self, unit: str, shape: DataShape) -> nn.Module:
        parts = unit.split(".")
        if parts[0] == "cells" and len(parts) == 4:
            return self.build_op(parts[3], self.cell_channels(int(parts[1])), shape.dims)
        return self.build_fixed(unit, shape)

    @abstractmethod
    def cell_channels(self, cell: int) -> int: ...

    @abstractmethod
    def build_op(self, op: str, channels: int, dims: int) -> nn.Module: ...

    @abstractmethod
    def build_fixed(self, unit: str, shape: DataShape) -> nn.Module: ...


class GlobalPoolHead(nn.Module):
    """Global average pooling over every spatial axis, then a linear classifier."""

    def __init__(self, channels: int, num_classes: int, pre: nn.Module | None = None) -> None:
        super().__init__()
        self.pre = pre if pre is not None else nn.Identity()
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pre(x).flatten(2).mean(-1))


# -- NAS-Bench-201 -------------------------------------------------------------------------------------------------
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


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


class NB201Space(CellSpace):
    """NAS-Bench-201: 4-node cells, 6 edges x 5 ops = 15,625 children; stem 3x3 conv to C + BN, three stages of N
    cells (C, 2C, 4C) joined by ResNet reduction blocks, BN-ReLU-GAP-FC head. With C=16, N=5 and affine BatchNorm a
    child's parameter count equals the published benchmark's (tested). Children are named by arch strings,
    '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|'.
    """

    def __init__(self, channels: int = 16, cells_per_stage: int = 5, ops: Sequence[str] = NB201_OPS,
                 affine: bool = True, eval_children: int | None = 100, eval_seed: int = 0) -> None:
        require(is_int(channels) and 1 <= channels <= MAX_WIDTH // 4, "search_space.channels", channels,
                f"an integer from 1 to {MAX_WIDTH // 4} (the last stage is 4x as wide)")
        require(is_int(cells_per_stage) and 1 <= cells_per_stage <= MAX_DEPTH // 3, "search_space.cells_per_stage",
                cells_per_stage, f"an integer from 1 to {MAX_DEPTH // 3} (three stages of them)")
        require(isinstance(affine, bool), "search_space.affine", affine, "true or false")
        ops = checked_ops(ops, NB201_OPS)
        n = cells_per_stage
        layout: Layout = ["stem", *range(n), "reduce.0", *range(n, 2 * n), "reduce.1", *range(2 * n, 3 * n), "head"]
        super().__init__(4, ops, layout, eval_children=eval_children, eval_seed=eval_seed)
        self.channels, self.cells_per_stage, self.affine = channels, n, affine

    def cell_channels(self, cell: int) -> int:
        return self.channels * 2 ** (cell // self.cells_per_stage)

    def build_op(self, op: str, channels: int, dims: int) -> nn.Module:
        if op == "none":
            return Zero()
        if op == "skip_connect":
            return nn.Identity()
        if op == "avg_pool_3x3":
            return pool(dims, "avg", 3, 1, 1, count_include_pad=False)
        return relu_conv_bn(dims, channels, channels, 1 if op == "nor_conv_1x1" else 3, affine=self.affine)

    def build_fixed(self, unit: str, shape: DataShape) -> nn.Module:
        c, dims = self.channels, shape.dims
        if unit == "stem":
            return nn.Sequential(conv(dims, shape.channels, c, 3, padding=1, bias=False),
                                 batchnorm(dims, c, self.affine))
        if unit == "head":
            return GlobalPoolHead(4 * c, shape.num_classes, nn.Sequential(batchnorm(dims, 4 * c, self.affine),
                                                                         nn.ReLU()))
        stage = int(unit.split(".")[1])
        return ResNetBlock(dims, c * 2 ** stage, c * 2 ** (stage + 1), self.affine)

    # -- arch strings ------------------------------------------------------------------------------------------------
    def name(self, child: int | Sequence[int]) -> str:
        arch = self.arch(child) if isinstance(child, int) else tuple(child)
        nodes = []
        for j in range(1, self.nodes):
            nodes.append("|".join(f"{self.ops[arch[e]]}~{i}" for e, (i, jj) in enumerate(self.edges) if jj == j))
        return "|" + "|+|".join(nodes) + "|"

    def parse(self, name: str) -> Arch:
        """'|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|' -> choice indices (edges in string order)."""
        expected = f"{self.nodes - 1} '+'-separated nodes of 'op~input' entries, e.g. {self.name(0)!r}"
        nodes = name.strip().split("+")
        if len(nodes) != self.nodes - 1:
            raise ValueError(f"arch string {name!r}: expected {expected}")
        arch = []
        for j, node in enumerate(nodes, start=1):
            entries = [e for e in node.strip().strip("|").split("|")]
            if len(entries) != j:
                raise ValueError(f"arch string {name!r}: node {j} has {len(entries)} inputs, expected {j}")
            for i, entry in enumerate(entries):
                op, _, source = entry.partition("~")
                if source != str(i):
                    raise ValueError(f"arch string {name!r}: {entry!r} should read from node {i} ('{op}~{i}')")
                if op not in self.ops:
                    raise ValueError(f"arch string {name!r}: op {op!r} is not one of {self.ops}")
                arch.append(self.ops.index(op))
        return tuple(arch)


# -- Deeper Insights -----------------------------------------------------------------------------------------------
DEEPER_INSIGHTS_OPS = ("max_pool_3x3", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_5x5")


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
                 ops: Sequence[str] = DEEPER_INSIGHTS_OPS, bn_momentum: float = 0.4) -> None:
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

    def _bn(self, dims: int, channels: int, affine: bool = False) -> nn.Module:
        return batchnorm(dims, channels, affine, self.bn_momentum)

    def build_op(self, op: str, channels: int, dims: int) -> nn.Module:
        if op == "max_pool_3x3":
            return nn.Sequential(pool(dims, "max", 3, 1, 1), self._bn(dims, channels))
        if op == "dil_conv_5x5":
            return nn.Sequential(*self._depthwise_pointwise(dims, channels, 5, 2))
        k = 3 if op == "sep_conv_3x3" else 5  # a separable conv applies depthwise-pointwise twice
        return nn.Sequential(*self._depthwise_pointwise(dims, channels, k, 1),
                             *self._depthwise_pointwise(dims, channels, k, 1))

    def _depthwise_pointwise(self, dims: int, c: int, kernel: int, dilation: int) -> list[nn.Module]:
        """ReLU -> depthwise conv -> 1x1 conv -> BN."""
        return [nn.ReLU(), conv(dims, c, c, kernel, 1, dilation * (kernel - 1) // 2, dilation, groups=c, bias=False),
                conv(dims, c, c, 1, bias=False), self._bn(dims, c)]

    def build_fixed(self, unit: str, shape: DataShape) -> nn.Module:
        c, stem, dims = self.channels, self.stem_channels, shape.dims
        if unit == "stem":
            return nn.Sequential(conv(dims, shape.channels, stem, 3, padding=1, bias=False),
                                 self._bn(dims, stem, affine=True),
                                 conv(dims, stem, stem, 3, padding=1, bias=False), self._bn(dims, stem, affine=True))
        if unit == "head":
            return GlobalPoolHead(2 * c, shape.num_classes)
        cell = int(unit.split(".")[1])  # cells.<c>.pre
        return relu_conv_bn(dims, stem if cell == 0 else 2 * c, c, 1, affine=False, momentum=self.bn_momentum)

    def name(self, child: int | Sequence[int]) -> str:
        arch = self.arch(child) if isinstance(child, int) else tuple(child)
        return "".join(str(d + 1) for d in arch)

    def parse(self, name: str) -> Arch:
        """'142' -> (0, 3, 1): one digit 1..len(ops) per edge."""
        if len(name) != len(self.edges) or not name.isdigit():
            raise ValueError(f"child name {name!r} is not {len(self.edges)} digits 1-{len(self.ops)} (e.g. '111')")
        arch = tuple(int(ch) - 1 for ch in name)
        self.index(arch)
        return arch
