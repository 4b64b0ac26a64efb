"""Samplers: which children train at each optimizer step.

Each sampler owns a seeded `torch.Generator`, so the sequence of children depends only on its seed and is identical
on every DDP rank; its state travels in checkpoints so that a resumed run continues the same sequence.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Sequence

import torch

from benchmark.errors import require
from benchmark.spaces import SearchSpace


SUBSETS = ("uniform or round_robin: some of the children (a group under sharing.budget=per_group, what "
           "task=prune_search keeps) are not a space this sampler can walk; or sharing.budget=fixed")


class Sampler(ABC):
    """Yields, per optimizer step, the children whose summed loss that step trains (usually one).

    `children` restricts the sampler to some of the space's children (one group of a partially shared supernet);
    by default it walks all of them.
    """

    #: Whether it can walk some of the space's children only (a group, what a pruning search keeps).
    walks_subsets = True

    def __init__(self, space: SearchSpace, seed: int = 0, children: Sequence[int] | None = None) -> None:
        self.space, self.seed = space, int(seed)
        self.children = list(range(space.num_children)) if children is None else list(children)
        self.generator = torch.Generator().manual_seed(self.seed)

    def _refuse_subset(self, name: str) -> None:
        """For samplers that walk the whole space: a group of it is not a space they can walk."""
        require(len(self.children) == self.space.num_children, "sampler", name, SUBSETS)

    @abstractmethod
    def sample(self) -> list[int]: ...

    def restrict(self, keep: Sequence[int]) -> None:
        """Walk only the children in `keep` from now on (a pruning search drops the worst): the sequence goes on from
        the generator's current state. Idempotent; the children travel in the checkpoint."""
        kept = set(keep)
        self.children = [c for c in self.children if c in kept]

    def for_rank(self, rank: int) -> None:
        """Give DDP rank `rank` its own sequence (module.arch_sync=per_rank): as if built with a seed of its own."""
        self.generator.manual_seed(self.seed + 1_000_003 * rank)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "children": list(self.children)}

    def __getstate__(self) -> dict[str, Any]:
        # A torch.Generator does not survive torch.multiprocessing's pickling (ddp_spawn): send its state as bytes.
        return {**self.__dict__, "generator": bytes(self.generator.get_state().numpy())}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.generator = torch.Generator()
        self.generator.set_state(torch.frombuffer(bytearray(state["generator"]), dtype=torch.uint8))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.children = list(state.get("children", self.children))  # checkpoints before pruning: all of them


class UniformSampler(Sampler):
    """Single-path one-shot: one child per step, uniformly at random (SPOS)."""

    def sample(self) -> list[int]:
        return [self.children[int(torch.randint(len(self.children), (1,), generator=self.generator))]]


class RoundRobinSampler(Sampler):
    """Every child exactly once per cycle (Deeper Insights' default training order).

    order='fixed': children in index order, every cycle the same; 'shuffle_once': one seeded shuffle, kept for the
    whole run (the paper's "different orders"); 'shuffle_every': a fresh shuffle every cycle (the paper's "shuffle").
    """

    orders = ("fixed", "shuffle_once", "shuffle_every")

    def __init__(self, space: SearchSpace, seed: int = 0, order: str = "fixed",
                 children: Sequence[int] | None = None) -> None:
        require(order in self.orders, "sampler.order", order, f"one of {list(self.orders)}")
        super().__init__(space, seed, children)
        self.order = order
        self.cycle = self._shuffled() if order != "fixed" else list(self.children)
        self.position = 0

    def _shuffled(self) -> list[int]:
        return [self.children[i] for i in torch.randperm(len(self.children), generator=self.generator).tolist()]

    def for_rank(self, rank: int) -> None:
        """A shuffled order is redrawn from the rank's generator; the fixed order starts at child `rank`, so that ranks
        train different children at every step while each still visits every child once per cycle."""
        super().for_rank(rank)
        n = len(self.children)
        self.cycle = self._shuffled() if self.order != "fixed" else [self.children[(rank + i) % n] for i in range(n)]
        self.position = 0

    def sample(self) -> list[int]:
        if self.position == len(self.cycle):
            if self.order == "shuffle_every":
                self.cycle = self._shuffled()
            self.position = 0
        self.position += 1
        return [self.cycle[self.position - 1]]

    def restrict(self, keep: Sequence[int]) -> None:
        """The current cycle goes on without the dropped children (none is visited twice in it)."""
        super().restrict(keep)
        kept = set(self.children)
        self.position = sum(c in kept for c in self.cycle[: self.position])
        self.cycle = [c for c in self.cycle if c in kept]

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "cycle": list(self.cycle), "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.cycle, self.position = list(state["cycle"]), int(state["position"])


class GradualSampler(Sampler):
    """MAGIC-T: a random walk on the space; consecutive children differ in exactly one decision.

    The first child is uniform; then each step picks a decision (uniformly, or with `decision_weights`) and moves it
    to a different choice drawn uniformly. Fewer changed operators between steps means less interference.
    """

    walks_subsets = False

    def __init__(self, space: SearchSpace, seed: int = 0, decision_weights: Sequence[float] | None = None,
                 children: Sequence[int] | None = None) -> None:
        movable = [i for i, c in enumerate(space.choices) if len(c) > 1]
        require(bool(movable), "sampler", "gradual", "a space with at least one decision that has two or more choices")
        if decision_weights is not None:
            require(len(decision_weights) == len(space.decisions)
                    and all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0
                            for w in decision_weights)
                    and sum(decision_weights[i] for i in movable) > 0, "sampler.decision_weights",
                    list(decision_weights), f"{len(space.decisions)} non-negative numbers, one per decision, with a "
                    f"positive weight on at least one decision that has two or more choices")
        super().__init__(space, seed, children)
        self._refuse_subset("gradual")
        weights = torch.tensor([float(decision_weights[i]) if decision_weights is not None else 1.0
                                for i in range(len(space.decisions))])
        weights[[i for i in range(len(space.decisions)) if i not in movable]] = 0.0
        self.weights = weights
        self.current: list[int] | None = None

    def sample(self) -> list[int]:
        if self.current is None:
            self.current = list(self.space.arch(int(torch.randint(self.space.num_children, (1,),
                                                                    generator=self.generator))))
        else:
            decision = int(torch.multinomial(self.weights, 1, generator=self.generator))
            r = len(self.space.choices[decision])
            step = 1 + int(torch.randint(r - 1, (1,), generator=self.generator))  # any other choice, uniformly
            self.current[decision] = (self.current[decision] + step) % r
        return [self.space.index(self.current)]

    def restrict(self, keep: Sequence[int]) -> None:
        super().restrict(keep)
        self._refuse_subset("gradual")

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "current": None if self.current is None else list(self.current)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.current = None if state["current"] is None else list(state["current"])


class FairSampler(Sampler):
    """FairNAS strict fairness: each step K children that together use every op of every layer exactly once.

    Per layer a seeded permutation of its K ops; child j takes op perm_l[j] at layer l. Their losses are summed and one
    optimizer step is taken, so every op receives exactly one gradient per step. Needs every decision to have the
    same number of choices K.
    """

    walks_subsets = False

    def __init__(self, space: SearchSpace, seed: int = 0, children: Sequence[int] | None = None) -> None:
        sizes = {len(c) for c in space.choices}
        require(len(sizes) == 1, "sampler", "fair", f"a space whose decisions all have the same number of choices "
                f"(this one has {sorted(len(c) for c in space.choices)}); use uniform or round_robin")
        super().__init__(space, seed, children)
        self._refuse_subset("fair")
        self.k = sizes.pop()

    def sample(self) -> list[int]:
        perms = [torch.randperm(self.k, generator=self.generator).tolist() for _ in self.space.decisions]
        return [self.space.index([perm[j] for perm in perms]) for j in range(self.k)]

    def restrict(self, keep: Sequence[int]) -> None:
        super().restrict(keep)
        self._refuse_subset("fair")


class PerGroupSampler(Sampler):
    """One child from every group at each step, each group walked by its own sampler: the groups of a partially shared
    supernet train side by side as separate supernets, each for the full schedule (Deeper Insights, Table 3).

    Groups own disjoint weights, so their summed loss gives each group exactly the update it would get alone.
    """

    def __init__(self, space: SearchSpace, samplers: Sequence[Sampler]) -> None:
        super().__init__(space, samplers[0].seed)
        self.samplers = list(samplers)

    def sample(self) -> list[int]:
        """A group whose children were all pruned away trains no more."""
        return [child for sampler in self.samplers if sampler.children for child in sampler.sample()]

    def restrict(self, keep: Sequence[int]) -> None:
        for sampler in self.samplers:
            sampler.restrict(keep)

    def for_rank(self, rank: int) -> None:
        for sampler in self.samplers:
            sampler.for_rank(rank)

    def state_dict(self) -> dict[str, Any]:
        return {"groups": [sampler.state_dict() for sampler in self.samplers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        require("groups" in state and len(state["groups"]) == len(self.samplers), "ckpt_path",
                f"a checkpoint whose sampler state has {len(state.get('groups', [])) or 'no'} groups",
                f"one written with sharing.budget=per_group and {len(self.samplers)} groups")
        for sampler, part in zip(self.samplers, state["groups"]):
            sampler.load_state_dict(part)
