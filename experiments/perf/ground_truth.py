"""Ground truth: children trained side by side (stacked) vs. one after another, with the same recipe and batches; and
one plain SGD step of a stack vs. its children's steps alone (what the stacked kernels themselves earn)."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F

from benchmark.data import ArrayDataModule
from benchmark.spaces import SearchSpace
from benchmark.stacked import StackedChildrenModule, side_by_side
from benchmark.tasks.ground_truth import train_chunk
from experiments.perf.clock import times
from experiments.perf.recipe import Optimizer, Recipe


def ground_truth_throughput(recipe: Recipe, children: int, epochs: int, chunk: int,
                            device: torch.device) -> dict[str, float]:
    recipe = recipe.but(f"ground_truth.epochs={epochs}")
    dm, space, ids = recipe.data, recipe.space(), list(range(children))
    start = time.perf_counter()
    stacked = [r for i in range(0, children, chunk) for r in train_chunk(recipe.cfg, space, dm, 0, ids[i:i + chunk])]
    t_stacked = time.perf_counter() - start
    start = time.perf_counter()
    alone = [r for c in ids for r in train_chunk(recipe.cfg, space, dm, 0, [c])]
    t_alone = time.perf_counter() - start
    step_stacked, step_alone = _ground_truth_steps(space, dm, ids[:chunk], recipe.standalone_optimizer, repeats=10,
                                                   device=device)
    return {"children": children, "epochs": epochs, "chunk": chunk, "stacked_s": t_stacked,
            "one_by_one_s": t_alone, "speedup": t_alone / t_stacked,
            "max_abs_test_acc_diff": max(abs(a["test_acc"] - b["test_acc"]) for a, b in zip(stacked, alone)),
            "step_children": len(ids[:chunk]), "step_stacked_s": step_stacked, "step_one_by_one_s": step_alone,
            "step_speedup": step_alone / step_stacked}


def _ground_truth_steps(space: SearchSpace, dm: ArrayDataModule, children: list[int], sgd: Optimizer, repeats: int,
                        device: torch.device) -> tuple[float, float]:
    """One SGD step of `children` stacked vs. one step of each alone, in plain PyTorch (no Trainer, no evaluation),
    alternating: how much of the ground-truth figure the stacked kernels themselves earn. Median seconds of each."""
    batch = [t.to(device) for t in next(iter(dm.train_dataloader()))]
    stack = StackedChildrenModule(side_by_side(space, children, dm.shape, children), sgd).to(device)
    alone = [space.build_child(c, dm.shape).to(device) for c in children]
    stack_opt, alone_opts = sgd(params=stack.parameters()), [sgd(params=net.parameters()) for net in alone]

    def step(loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def stacked() -> None:
        step(stack.loss(batch), stack_opt)

    def one_by_one() -> None:
        for net, optimizer in zip(alone, alone_opts):
            step(F.cross_entropy(net(batch[0]), batch[1]), optimizer)

    spent: dict[Callable[[], None], list[float]] = {stacked: [], one_by_one: []}
    for _ in range(repeats):
        for fn, seconds in spent.items():
            seconds += times(fn, 3)
    return statistics.median(spent[stacked]), statistics.median(spent[one_by_one])
