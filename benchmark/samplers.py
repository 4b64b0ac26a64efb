"""Samplers: which children train at each optimizer step.

Each sampler owns a seeded `torch.Generator`, so the sequence of children depends only on its seed and is identical
on every DDP rank; its state travels in checkpoints so that a resumed run continues the same sequence.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

from benchmark.spaces import SearchSpace


class Sampler(ABC):
    """Yields, per optimizer step, the children whose summed loss that step trains (usually one)."""

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        self.space = space
        self.generator = torch.Generator().manual_seed(int(seed))

    @abstractmethod
    def sample(self) -> list[int]: ...

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


class UniformSampler(Sampler):
    """Single-path one-shot: one child per step, uniformly at random (SPOS)."""

    def sample(self) -> list[int]:
        return [int(torch.randint(self.space.num_children, (1,), generator=self.generator))]
