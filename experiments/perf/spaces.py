"""Each search space's supernet training step and ranking cost on MNIST-1D, and its step on CIFAR-10-sized batches."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmark.errors import ConfigError
from benchmark.evaluation import evaluate_children
from benchmark.spaces import DataShape
from benchmark.supernet import Supernet
from experiments.perf.clock import median_time
from experiments.perf.recipe import SPACES, Recipe

#: CIFAR-10's shape, for spaces that take images.
IMAGES = DataShape(channels=3, length=32, num_classes=10, height=32)


def space_costs(recipe: Recipe, repeats: int, device: torch.device) -> dict[str, dict[str, float]]:
    """Per space: median supernet training step (training batch) and one ranking on the default data; step at batch
    64 on CIFAR-10-sized random images for spaces that take images."""
    dm = recipe.data
    val, calib = recipe.ranking_batches(device)
    x, y = (t.to(device) for t in next(iter(dm.train_dataloader())))
    out = {}
    for name in SPACES:
        variant = recipe.but(f"search_space={name}")
        space = variant.space()
        row = {}
        for label, shape, xs, ys in [("mnist1d", dm.shape, x, y),
                                     ("cifar10", IMAGES, torch.randn(64, *IMAGES.input_size, device=device),
                                      torch.randint(IMAGES.num_classes, (64,), device=device))]:
            try:
                space.check_data(shape)
            except ConfigError:  # a space for sequences only
                continue
            torch.manual_seed(variant.cfg.seed)
            net = Supernet(space, variant.sharing(), shape).to(device)
            optimizer = variant.optimizer(params=net.parameters())
            sampler = variant.sampler(space)

            def step() -> None:
                optimizer.zero_grad()
                F.cross_entropy(net(xs, sampler.sample()[0]), ys).backward()
                optimizer.step()

            step()  # warm-up
            row[f"{label}_step_s"] = median_time(step, repeats * 3)
            if label == "mnist1d":
                row["mnist1d_epoch_s"] = row["mnist1d_step_s"] * len(dm.train_dataloader())
                row["ranked_children"] = len(space.ranked_children())
                row["ranking_s"] = median_time(
                    lambda: evaluate_children(net, space.ranked_children(), val, calib), max(1, repeats // 2))
        out[name] = row
    return out
