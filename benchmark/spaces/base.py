"""SearchSpace: the decisions a child makes, its names, and the networks built from it.

A child has three forms: its index (what samplers, rankings and tables key on), its arch - a tuple of choice indices,
one per decision (what the space builds and routes) - and its name (what files and logs show). `SearchSpace.child`
converts an index or a name into a `Child` carrying all three, so callers never chain the conversions by hand.
Children are numbered in mixed radix with the first decision most significant, so index order equals lexicographic
order of names (the "similarity" partition relies on it).
A space also describes its network as an ordered path of *units* (shareable modules) per child; the supernet and the
sharing policies only ever see unit names, never the ops inside.
"""
from __future__ import annotations

import functools
import itertools
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from benchmark.shape import DataShape
from benchmark.errors import ConfigError, is_int, require, require_seed

Arch = tuple[int, ...]
#: Applies the unit at position k of a child's path to a tensor (see SearchSpace.run).
UnitCall = Callable[[int, torch.Tensor], torch.Tensor]


#: Limits beyond which a space could not be built or enumerated in reasonable time and memory: a supernet enumerates
#: every child's route and a ranking visits every ranked child (4 ops over 40 layers would be 10^24 children), and
#: every unit is built at least once (one convolution 10^6 channels wide alone needs terabytes). The papers' spaces
#: stay far below them.
MAX_CHILDREN, MAX_DEPTH, MAX_WIDTH = 100_000, 1_000, 1_024


@dataclass(frozen=True)
class Child:
    """One child in all three forms (see `SearchSpace.child`). Not a tuple, so it is never mistaken for an arch."""

    index: int
    arch: Arch
    name: str


def checked_ops(ops: Sequence[str], available: Sequence[str], key: str = "search_space.ops") -> list[str]:
    """`ops` as a list, or a ConfigError naming a string given for the list, the first unknown op, or an empty or
    repeating list."""
    example = ",".join(sorted(available)[:2])
    require(isinstance(ops, Sequence) and not isinstance(ops, str), key, ops,
            f"a list of ops in brackets, e.g. {key}=[{example}]; available: {sorted(available)}")
    ops = list(ops)
    require(len(ops) >= 1, key, ops, f"a non-empty list of {sorted(available)}")
    for op in ops:
        require(isinstance(op, str) and op in available, key, op, f"one of {sorted(available)}")
    require(len(set(ops)) == len(ops), key, ops, "a list without repeated ops")
    return ops


class SearchSpace(ABC):
    """Enumerable space of children; subclasses say which units a child passes through and how to build them."""

    #: Separator of choice indices in a child's name, e.g. "0-3-1".
    separator = "-"

    def __init__(self, decisions: Sequence[str], choices: Sequence[Sequence[str]],
                 eval_children: int | None = None, eval_seed: int = 0) -> None:
        self.decisions = list(decisions)
        self.choices = [tuple(c) for c in choices]
        self._radix = [len(c) for c in self.choices]
        require(eval_children is None or (is_int(eval_children) and 1 <= eval_children),
                "search_space.eval_children", eval_children, "null (rank every child) or an integer >= 1")
        require_seed("search_space.eval_seed", eval_seed)
        self.eval_children, self.eval_seed = eval_children, eval_seed

    # -- enumeration and names -------------------------------------------------------------------------------------
    @property
    def num_children(self) -> int:
        n = 1
        for r in self._radix:
            n *= r
        return n

    def child(self, ref: int | str) -> Child:
        """The child with this index or name: the one place where the three forms convert. A ConfigError names a bad
        `ref`."""
        if isinstance(ref, str):
            try:
                index = self.index(self.parse(ref))
            except ValueError as e:  # a ConfigError too: an out-of-range choice
                raise ConfigError("child", ref, f"a child name of this space such as {self.name(0)!r} ({e})") from None
        else:
            index = ref
        return Child(index, self.arch(index), self.name(index))

    def arch(self, index: int) -> Arch:
        """Choice indices of child `index` (first decision most significant)."""
        require(0 <= index < self.num_children, "child", index, f"an index in [0, {self.num_children})")
        digits = []
        for r in reversed(self._radix):
            index, d = divmod(index, r)
            digits.append(d)
        return tuple(reversed(digits))

    def index(self, arch: Sequence[int]) -> int:
        require(len(arch) == len(self._radix), "arch", tuple(arch), f"{len(self._radix)} choices, one per decision")
        i = 0
        for d, r, name in zip(arch, self._radix, self.decisions):
            require(0 <= d < r, f"arch[{name}]", d, f"a choice in [0, {r})")
            i = i * r + int(d)
        return i

    def children(self) -> Iterator[Arch]:
        return itertools.product(*(range(r) for r in self._radix))

    def ranked_children(self) -> list[int]:
        """The children that rankings, ground truth and proxies measure: every child, or - for spaces too large to
        rank every epoch - a fixed sample of `eval_children`, drawn with `eval_seed` (never the run's seed, so every
        seed of a study ranks the same children). The supernet still trains on the whole space."""
        n = self.num_children
        if self.eval_children is None or self.eval_children >= n:
            return list(range(n))
        return sorted(random.Random(self.eval_seed).sample(range(n), self.eval_children))

    def name(self, index: int) -> str:
        return self.separator.join(str(d) for d in self.arch(index))

    def parse(self, name: str) -> Arch:
        """The arch a name spells (inverse of `name`): the space's name grammar behind `child(name)`; a ValueError
        says what is wrong."""
        try:
            arch = tuple(int(p) for p in name.split(self.separator))
        except ValueError:
            raise ValueError(f"child name {name!r} is not {len(self._radix)} integers joined by {self.separator!r}")
        self.index(arch)  # validates
        return arch

    def describe(self, index: int) -> str:
        """Readable ops of a child, e.g. 'conv3 > maxpool3 > conv5'."""
        return " > ".join(self.choices[i][d] for i, d in enumerate(self.arch(index)))

    def parse_ops(self, text: str) -> Arch:
        """Inverse of `describe`: 'conv3 > maxpool3 > conv5' -> (0, 3, 1)."""
        ops = [t.strip() for t in text.split(">")]
        if len(ops) != len(self.choices):
            raise ValueError(f"{text!r} names {len(ops)} ops; this space has {len(self.choices)} decisions")
        arch = []
        for i, op in enumerate(ops):
            if op not in self.choices[i]:
                raise ValueError(f"{text!r}: op {op!r} is not a choice of {self.decisions[i]} {list(self.choices[i])}")
            arch.append(self.choices[i].index(op))
        return tuple(arch)

    @staticmethod
    def hamming(a: Sequence[int], b: Sequence[int]) -> int:
        """Number of decisions on which two children differ."""
        if len(a) != len(b):
            raise ValueError(f"children of different lengths: {tuple(a)} vs {tuple(b)}")
        return sum(x != y for x, y in zip(a, b))

    # -- networks --------------------------------------------------------------------------------------------------
    @abstractmethod
    def unit_names(self) -> list[str]:
        """Every unit of the supernet, in forward order (dotted module paths, e.g. 'layers.0.conv3')."""

    @abstractmethod
    def path(self, arch: Arch) -> list[str]:
        """The units child `arch` applies, in order; its forward is their composition."""

    @abstractmethod
    def depth(self, unit: str) -> int:
        """How deep a unit sits: 0 for the stem, i + 1 for layer i, num_layers + 1 for the head.

        Prefix sharing ("share the stem and the first k layers") is defined on it.
        """

    @property
    def num_layers(self) -> int:
        """Depths between stem and head: one per decision in a chain, one per stacked cell in a cell space."""
        return len(self.decisions)

    @property
    def is_chain(self) -> bool:
        """Whether a child's forward is the plain composition of its path (the space keeps the default `run`). The
        prefix-tree evaluator, side-by-side stacking and the interference probe rely on it; cell spaces wire DAGs."""
        return type(self).run is SearchSpace.run

    @functools.cached_property
    def path_length(self) -> int:
        """Units on every child's path (the same for all children)."""
        return len(self.slots())

    @abstractmethod
    def slots(self) -> list[list[str]]:
        """The candidate units at each position of a path (one for fixed units such as the stem): path(arch)[k] is
        always one of slots()[k]. FreeFlow mixes the candidates of every position."""

    def run(self, x: torch.Tensor, call: UnitCall, features: list[torch.Tensor] | None = None) -> torch.Tensor:
        """A child's forward, given `call(k, h)` that applies the unit at position k of its path; with `features`,
        also append the output of every layer before the head. Chains compose their path in order."""
        n = self.path_length
        for k in range(n):
            x = call(k, x)
            if features is not None and k < n - 1:
                features.append(x)
        return x

    @abstractmethod
    def build_unit(self, unit: str, shape: DataShape) -> nn.Module:
        """A fresh module for `unit`."""

    def check_data(self, shape: DataShape) -> None:
        """Raise a ConfigError when the space cannot be built for this data (e.g. 1-D ops on images)."""
        require(shape.dims == 1, "data", f"{shape.dims}-D data {shape.input_size}",
                f"1-D sequence data (data=mnist1d or data=digits) for {type(self).__name__}; for images use a cell "
                "space (search_space=nb201 or search_space=deeper_insights)")

    def build_child(self, index: int, shape: DataShape) -> "ChildNet":
        """A standalone network for one child: its own copy of every unit on its path."""
        return ChildNet(self, self.arch(index), shape)


class ChildNet(nn.Module):
    """One child on its own: `units[k]` is its own copy of the unit at position k of its path, run by the space."""

    def __init__(self, space: SearchSpace, arch: Arch, shape: DataShape) -> None:
        super().__init__()
        space.check_data(shape)
        self.space, self.path = space, space.path(arch)
        self.units = nn.ModuleList(space.build_unit(u, shape) for u in self.path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.space.run(x, lambda k, h: self.units[k](h))
