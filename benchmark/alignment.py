"""MAGIC-A (Xu et al., 2022): an auxiliary loss that aligns the sampled child's features with an anchor child's."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from benchmark.errors import require


@dataclass
class Alignment:
    """MAGIC-A: pull the sampled child's unit outputs towards those of an anchor child on the same batch.

    The anchor is the best child of the latest ranking, refreshed every `refresh_epochs` epochs; there is none before
    the first ranking. Defaults: weight 0 (off); MSE, since outputs of one unit live on one scale; every unit before
    the head, since interference is measured per operator.
    """

    weight: float = 0.0
    distance: str = "mse"
    refresh_epochs: int = 1

    distances = ("mse", "cosine")

    def __post_init__(self) -> None:
        require(self.weight >= 0, "module.align.weight", self.weight, "a number >= 0 (0 turns alignment off)")
        require(self.distance in self.distances, "module.align.distance", self.distance,
                f"one of {list(self.distances)}")
        require(isinstance(self.refresh_epochs, int) and self.refresh_epochs >= 1, "module.align.refresh_epochs",
                self.refresh_epochs, "an integer >= 1")

    def loss(self, features: list[torch.Tensor], anchor: list[torch.Tensor]) -> torch.Tensor:
        if self.distance == "mse":
            terms = [F.mse_loss(f, a) for f, a in zip(features, anchor)]
        else:
            terms = [1 - F.cosine_similarity(f.flatten(1), a.flatten(1), dim=1).mean()
                     for f, a in zip(features, anchor)]
        return torch.stack(terms).mean()
