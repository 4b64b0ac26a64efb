"""NAS-Bench-201 (Dong & Yang, 2020) as a cell space: its cell, macro skeleton and arch strings; its ops are in
benchmark/spaces/ops/cells.py."""
from __future__ import annotations

from typing import Sequence

from torch import nn

from benchmark.errors import is_int, require
from benchmark.spaces.base import MAX_DEPTH, MAX_WIDTH, Arch, DataShape, checked_ops
from benchmark.spaces.cells import CellSpace, Layout
from benchmark.spaces.ops.cells import NB201_OPS, GlobalPoolHead, ResNetBlock
from benchmark.spaces.ops.layers import batchnorm, conv


class NB201Space(CellSpace):
    """NAS-Bench-201: 4-node cells, 6 edges x 5 ops = 15,625 children; stem 3x3 conv to C + BN, three stages of N
    cells (C, 2C, 4C) joined by ResNet reduction blocks, BN-ReLU-GAP-FC head. With C=16, N=5 and affine BatchNorm a
    child's parameter count equals the published benchmark's (tested). Children are named by arch strings,
    '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|'.
    """

    def __init__(self, channels: int = 16, cells_per_stage: int = 5, ops: Sequence[str] = tuple(NB201_OPS),
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
        return NB201_OPS[op](dims, channels, self.affine)

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
    def name(self, index: int) -> str:
        arch = self.arch(index)
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
