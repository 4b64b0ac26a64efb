"""The default space: a stem, `layers` positions that each pick one 1-D op, and a linear head."""
from __future__ import annotations

from typing import Collection, Sequence

from torch import nn

from benchmark.errors import ConfigError, is_int, require
from benchmark.spaces.base import MAX_CHILDREN, MAX_DEPTH, MAX_WIDTH, Arch, DataShape, SearchSpace, checked_ops
from benchmark.spaces.ops.chain import OPS, SegmentMean, conv_bn_relu

DEFAULT_OPS = ("conv3", "conv5", "dilconv3", "maxpool3")


def check_size(ops: int, layers: int) -> None:
    """Refuse a chain with more than MAX_CHILDREN children at once, naming its size: building its supernet would
    enumerate every child and never finish."""
    children = ops ** layers
    if children <= MAX_CHILDREN:
        return
    most = 0
    while ops ** (most + 1) <= MAX_CHILDREN:
        most += 1
    size = f"{children:,}" if children < 10 ** 12 else f"about 10^{len(str(children)) - 1}"
    raise ConfigError("search_space.layers", layers, f"at most {most} layers with {ops} ops ({ops}^{layers} = {size} "
                                                     f"children; a supernet enumerates at most {MAX_CHILDREN:,})")


class LayeredSpace(SearchSpace):
    """stem -> unit[0] -> ... -> unit[layers-1] -> head, every position picking one of `ops`.

    Units are 'stem', 'layers.<i>.<op>' and 'head'; subclasses build them. This layout is what makes a space a chain
    for sharing policies, the prefix-tree evaluator and the interference probe.
    """

    def __init__(self, layers: int, ops: Sequence[str], available: Collection[str]) -> None:
        require(is_int(layers) and 1 <= layers <= MAX_DEPTH, "search_space.layers", layers,
                f"an integer from 1 to {MAX_DEPTH:,}")
        ops = checked_ops(ops, available)
        check_size(len(ops), layers)
        super().__init__([f"layer{i}" for i in range(layers)], [ops] * layers)
        self.layers, self.ops = layers, ops

    def unit_names(self) -> list[str]:
        return ["stem", *(f"layers.{i}.{op}" for i in range(self.layers) for op in self.ops), "head"]

    def slots(self) -> list[list[str]]:
        return [["stem"], *([f"layers.{i}.{op}" for op in self.ops] for i in range(self.layers)), ["head"]]

    def path(self, arch: Arch) -> list[str]:
        return ["stem", *(f"layers.{i}.{self.ops[d]}" for i, d in enumerate(arch)), "head"]

    def depth(self, unit: str) -> int:
        if unit == "stem":
            return 0
        if unit == "head":
            return self.layers + 1
        return int(unit.split(".")[1]) + 1


class ChainSpace(LayeredSpace):
    """stem -> op[0] -> ... -> op[layers-1] -> head; 4 ops x 3 layers = 64 children by default.

    The head pools the sequence to `head_pool` positions so that where a feature occurs still matters (MNIST-1D digits
    are positional templates) while the head stays small.
    """

    def __init__(
        self,
        layers: int = 3,
        ops: Sequence[str] = DEFAULT_OPS,
        channels: int = 16,
        head_pool: int = 8,
        affine: bool = False,
    ) -> None:
        super().__init__(layers, ops, OPS)
        require(is_int(channels) and 1 <= channels <= MAX_WIDTH, "search_space.channels", channels,
                f"an integer from 1 to {MAX_WIDTH:,}")
        require(is_int(head_pool) and head_pool >= 1, "search_space.head_pool", head_pool, "an integer >= 1")
        require(isinstance(affine, bool), "search_space.affine", affine, "true or false")
        self.channels, self.head_pool, self.affine = channels, head_pool, affine

    def check_data(self, shape: DataShape) -> None:
        super().check_data(shape)
        require(self.head_pool <= shape.length, "search_space.head_pool", self.head_pool,
                f"at most the data's length ({shape.length}): the head averages that many segments of it")

    def build_unit(self, unit: str, shape: DataShape) -> nn.Module:
        if unit == "stem":
            stem = conv_bn_relu(self.channels, 3, affine=self.affine)
            stem[0] = nn.Conv1d(shape.channels, self.channels, 3, padding=1, bias=False)
            return stem
        if unit == "head":
            return nn.Sequential(
                SegmentMean(self.head_pool),
                nn.Flatten(),
                nn.Linear(self.channels * self.head_pool, shape.num_classes),
            )
        _, _, op = unit.split(".")
        return OPS[op](self.channels, self.affine)
