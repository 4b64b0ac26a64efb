"""Sharing policies: which copy of a unit's weights serves a child.

Sharing is a lookup, not a rewrite: a policy maps (child, unit) to an *owner*; children with the same owner for a unit
use the same copy of it. The supernet allocates one copy per owner actually used, so a copy holds only what its
children can use. Buffers (BatchNorm statistics) live in the same modules and so follow the same policy.

A *tensor-level* policy (`tensor_level = True`) goes one step finer: it gives an owner to every tensor (parameter or
buffer) of a unit, `tensor_owner(child, unit, tensor)`, tensors named '<unit>.<path in the unit>' (e.g.
'stem.1.running_mean'). The supernet then allocates one copy of the unit per distinct tuple of tensor owners among
the children that use it, and ties the tensors whose owners are equal: the copies hold the very same tensor object.
"""
from __future__ import annotations

import fnmatch
import random
from abc import ABC, abstractmethod
from typing import Mapping, NamedTuple, Sequence

from benchmark.errors import require
from benchmark.spaces import SearchSpace


class TensorRef(NamedTuple):
    """One tensor of a unit as a tensor-level policy sees it: its full dotted name '<unit>.<path>' (the supernet's
    state_dict key without the copy index: 'stem.1.weight' is stored as 'stem.<copy>.1.weight') and the class name of
    the module holding it ('Conv1d', 'BatchNorm2d', 'Linear', ...)."""

    name: str
    module: str


class SharingPolicy(ABC):
    """Maps (child index, unit name) to an owner id; equal owners share one copy."""

    space: SearchSpace
    #: Whether owners are given per tensor (`tensor_owner`) rather than per unit; the supernet then lists every unit's
    #: tensors to `bind_tensors` before asking.
    tensor_level: bool = False

    def bind(self, space: SearchSpace) -> None:
        """Attach to a space and check the policy can serve it (raises ConfigError otherwise)."""
        self.space = space

    def bind_tensors(self, tensors: Mapping[str, Sequence[TensorRef]]) -> None:
        """A tensor-level policy's second check, after `bind`: every unit of the space with its tensors, in order
        (units without tensors map to an empty list). Raise ConfigError when the policy cannot serve them."""

    @abstractmethod
    def owner(self, child: int, unit: str) -> int: ...

    def tensor_owner(self, child: int, unit: str, tensor: str) -> int:
        """Owner of one tensor of `unit` (named '<unit>.<path>') for `child`; by default the unit's owner. Only asked
        when `tensor_level` is set: equal owners mean one tensor object, whichever copies of the unit hold it."""
        return self.owner(child, unit)

    def tensor_owners(self, child: int, unit: str, tensors: Sequence[str]) -> tuple[int, ...]:
        """`tensor_owner` of each of `tensors`: the supernet's copy key (one copy per distinct tuple)."""
        return tuple(self.tensor_owner(child, unit, t) for t in tensors)

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
    """Share only what matches any pattern (mode='share'), or all but that (mode='unshare'); what is not shared is
    per child.

    match='unit' (the default): patterns are shell-style globs on unit names ('stem', 'layers.*.conv*', 'head') and a
    unit is shared or not as a whole, BatchNorm statistics included.

    match='tensor': patterns select single tensors, named '<unit>.<path in the unit>' - 'stem.1.weight',
    'cells.0.e01.sep_conv_3x3.3.running_mean', 'layers.2.conv5.0.weight' (the supernet's state_dict keys without the
    copy index). A glob selects a tensor when it matches its full name or any dotted prefix of it, so 'stem' or
    'cells.*.e12' selects every tensor below, '*.running_*' every BatchNorm statistic. 'Class:glob' further requires
    the class of the module holding the tensor to match Class: 'BatchNorm*:*' is every BatchNorm tensor (affine and
    statistics), 'Conv*:*' every convolution weight, 'Linear:head' the head's linear layer. Deeper Insights' code
    matches substrings of its own state_dict keys (models/search_cnn.py, 'keyword' / 'keyword_unshare'); its names
    differ from ours, so conf/sharing/not_bn.yaml and the other presets select the same tensors by class and place.
    """

    modes = ("share", "unshare")
    matches = ("unit", "tensor")

    def __init__(self, patterns: Sequence[str] | str, mode: str = "share", match: str = "unit") -> None:
        patterns = [patterns] if isinstance(patterns, str) else patterns  # sharing.patterns=stem means [stem]
        require(mode in self.modes, "sharing.mode", mode, f"one of {list(self.modes)}")
        require(match in self.matches, "sharing.match", match, f"one of {list(self.matches)}")
        require(len(patterns) > 0, "sharing.patterns", list(patterns),
                f"at least one glob on {'unit' if match == 'unit' else 'tensor'} names")
        self.patterns, self.mode, self.match = list(patterns), mode, match
        self.tensor_level = match == "tensor"
        self._shared: dict[str, bool] = {}  # tensor name -> shared (match='tensor', filled by bind_tensors)
        self._unit_shared: dict[str, bool] = {}  # unit -> every tensor shared

    def bind(self, space: SearchSpace) -> None:
        if self.match == "unit":
            units = space.unit_names()
            for p in self.patterns:
                require(any(fnmatch.fnmatchcase(u, p) for u in units), "sharing.patterns", p,
                        f"a glob matching at least one unit of {units}")
        super().bind(space)

    def bind_tensors(self, tensors: Mapping[str, Sequence[TensorRef]]) -> None:
        if self.match == "unit":
            return
        refs = [r for unit_refs in tensors.values() for r in unit_refs]
        for p in self.patterns:
            examples = [r.name for r in refs[:3]] + [f"{r.module}:{r.name}" for r in refs[3:4]]
            require(any(self.selects(p, r) for r in refs), "sharing.patterns", p,
                    "a glob matching at least one tensor ('<unit>.<path>' or 'Class:<glob>' with the class of its "
                    f"module; e.g. {examples}; units: {list(tensors)})")
        for unit, unit_refs in tensors.items():
            for r in unit_refs:
                matched = any(self.selects(p, r) for p in self.patterns)
                self._shared[r.name] = matched if self.mode == "share" else not matched
            self._unit_shared[unit] = all(self._shared[r.name] for r in unit_refs)

    @staticmethod
    def selects(pattern: str, tensor: TensorRef) -> bool:
        """Whether `pattern` (match='tensor') selects `tensor`: the glob matches its name or a dotted prefix of it,
        and a 'Class:' part, if any, the class of its module."""
        cls, sep, glob = pattern.rpartition(":")
        if sep and not fnmatch.fnmatchcase(tensor.module, cls):
            return False
        parts = tensor.name.split(".")
        return any(fnmatch.fnmatchcase(".".join(parts[:k]), glob) for k in range(1, len(parts) + 1))

    def owner(self, child: int, unit: str) -> int:
        if self.match == "tensor":
            # The unit as a whole: shared only when every tensor of it is (the supernet asks per tensor).
            if unit not in self._unit_shared:
                raise KeyError(f"unit {unit!r}: bind_tensors first (the Supernet does)")
            return 0 if self._unit_shared[unit] else child + 1
        matched = any(fnmatch.fnmatchcase(unit, p) for p in self.patterns)
        shared = matched if self.mode == "share" else not matched
        return 0 if shared else child + 1

    def tensor_owner(self, child: int, unit: str, tensor: str) -> int:
        if self.match == "unit":
            return self.owner(child, unit)
        if tensor not in self._shared:
            raise KeyError(f"tensor {tensor!r}: not one of the space's tensors, or bind_tensors not called")
        return 0 if self._shared[tensor] else child + 1
