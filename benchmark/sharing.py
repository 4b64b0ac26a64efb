"""Sharing policies: which copy of a unit's weights serves a child.

Sharing is a lookup, not a rewrite: a policy maps (child, unit) to an *owner*; children with the same owner for a unit
use the same copy of it. The supernet allocates one copy per owner actually used, so a copy holds only what its
children can use. Buffers (BatchNorm statistics) live in the same modules and so follow the same policy.
"""
from __future__ import annotations

import fnmatch
import random
from abc import ABC, abstractmethod
from typing import Sequence

from benchmark.errors import require
from benchmark.spaces import SearchSpace


class SharingPolicy(ABC):
    """Maps (child index, unit name) to an owner id; equal owners share one copy."""

    space: SearchSpace

    def bind(self, space: SearchSpace) -> None:
        """Attach to a space and check the policy can serve it (raises ConfigError otherwise)."""
        self.space = space

    @abstractmethod
    def owner(self, child: int, unit: str) -> int: ...

    def trained_apart(self) -> list[list[int]] | None:
        """Groups of children that train as separate supernets, one child of each group per step, or None when one
        sampler walks all children under one step budget."""
        return None


class FullSharing(SharingPolicy):
    """One copy of every unit: the classic one-shot supernet."""

    def owner(self, child: int, unit: str) -> int:
        return 0


class NoSharing(SharingPolicy):
    """Every child owns its weights: the supernet degenerates to independent children."""

    def owner(self, child: int, unit: str) -> int:
        return child


class PartialSharing(SharingPolicy):
    """Children split into `groups` groups, each group its own supernet (Deeper Insights, Table 3).

    partition='random': a seeded shuffle of the children, then shuffled position i goes to group i mod m.
    partition='similarity': contiguous blocks in lexicographic order of child names, so children that agree on the
    first decisions share weights.
    budget='per_group': every step trains one child of every group, so each group gets the full schedule, as the paper
    trained each group as its own supernet (m times the compute of one supernet); 'fixed': one child per step in all,
    so each group sees about 1/m of the steps.
    """

    partitions = ("random", "similarity")
    budgets = ("per_group", "fixed")

    def __init__(self, groups: int, partition: str = "similarity", seed: int = 0, budget: str = "per_group") -> None:
        require(partition in self.partitions, "sharing.partition", partition, f"one of {list(self.partitions)}")
        require(budget in self.budgets, "sharing.budget", budget, f"one of {list(self.budgets)}")
        self.groups, self.partition, self.seed, self.budget = groups, partition, seed, budget

    def bind(self, space: SearchSpace) -> None:
        n = space.num_children
        require(isinstance(self.groups, int) and 1 <= self.groups <= n, "sharing.groups", self.groups,
                f"an integer in [1, {n}] (the number of children)")
        super().bind(space)
        if self.partition == "similarity":
            # Blocks as equal as possible: child i -> floor(i * m / n).
            self._group = [i * self.groups // n for i in range(n)]
        else:
            order = list(range(n))
            random.Random(self.seed).shuffle(order)
            self._group = [0] * n
            for position, child in enumerate(order):
                self._group[child] = position % self.groups

    def group(self, child: int) -> int:
        return self._group[child]

    def owner(self, child: int, unit: str) -> int:
        return self._group[child]

    def trained_apart(self) -> list[list[int]] | None:
        if self.budget == "fixed" or self.groups == 1:
            return None
        return [[c for c in range(len(self._group)) if self._group[c] == g] for g in range(self.groups)]


class PrefixSharing(SharingPolicy):
    """The stem and the first `k` layers (cells, in a cell space) shared; every later unit (head included) is per
    child."""

    def __init__(self, k: int) -> None:
        self.k = k

    def bind(self, space: SearchSpace) -> None:
        layers = space.num_layers
        require(isinstance(self.k, int) and 0 <= self.k <= layers, "sharing.k", self.k,
                f"an integer in [0, {layers}] (the number of layers or stacked cells)")
        super().bind(space)

    def owner(self, child: int, unit: str) -> int:
        return 0 if self.space.depth(unit) <= self.k else child + 1


class KeywordSharing(SharingPolicy):
    """Share only the units whose names match any pattern (mode='share'), or all but those (mode='unshare').

    Patterns are shell-style globs on unit names, e.g. 'stem', 'layers.*.conv*', 'head'.
    """

    modes = ("share", "unshare")

    def __init__(self, patterns: Sequence[str] | str, mode: str = "share") -> None:
        patterns = [patterns] if isinstance(patterns, str) else patterns  # sharing.patterns=stem means [stem]
        require(mode in self.modes, "sharing.mode", mode, f"one of {list(self.modes)}")
        require(len(patterns) > 0, "sharing.patterns", list(patterns), "at least one glob on unit names")
        self.patterns, self.mode = list(patterns), mode

    def bind(self, space: SearchSpace) -> None:
        units = space.unit_names()
        for p in self.patterns:
            require(any(fnmatch.fnmatchcase(u, p) for u in units), "sharing.patterns", p,
                    f"a glob matching at least one unit of {units}")
        super().bind(space)

    def owner(self, child: int, unit: str) -> int:
        matched = any(fnmatch.fnmatchcase(unit, p) for p in self.patterns)
        shared = matched if self.mode == "share" else not matched
        return 0 if shared else child + 1
