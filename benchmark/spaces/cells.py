"""Cell spaces: a child picks one op per edge of a small DAG (the cell); the network stacks copies of that cell.

Node 0 is the cell's input and node j sums op_{i->j}(node i) over i < j, edges ordered by target then source (the
order of NAS-Bench-201's arch strings). Every stacked cell has its own weights - units 'cells.<c>.e<i><j>.<op>' - and
all of them use the chosen ops (one decision per edge, not per cell). Ops are built for 1-D or 2-D data
(benchmark/spaces/ops/cells.py), so the papers' spaces (nb201.py, deeper_insights.py) run on CIFAR-10 and, for CI and
laptops, on MNIST-1D.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Sequence

import torch
from torch import nn

from benchmark.errors import require
from benchmark.spaces.base import Arch, DataShape, SearchSpace, UnitCall

Layout = list[str | int]  # fixed units by name, stacked cells by index, in forward order


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
