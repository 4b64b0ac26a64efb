"""Ranking every child of the default space against one supernet training epoch, and the prefix tree against
evaluating child by child."""
from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmark.data import ArrayDataModule
from benchmark.evaluation import default_block, evaluate_child_by_child, evaluate_children
from benchmark.module import SupernetModule
from benchmark.supernet import Supernet
from experiments.perf.clock import timed_fit, times
from experiments.perf.recipe import Recipe


def ranking_cost(recipe: Recipe, rounds: int, repeats: int, device: torch.device) -> dict[str, float]:
    """Ranking every child vs. a training epoch, in interleaved rounds (a few epochs, then a few rankings of the
    weights they reached) so that a noisy spell of the machine hits both; each side's figure is its fastest run
    (noise only ever adds time)."""
    pl.seed_everything(recipe.cfg.seed)
    dm, space = recipe.data, recipe.space()
    supernet = Supernet(space, recipe.sharing(), dm.shape)
    module = SupernetModule(supernet, recipe.sampler(space), recipe.optimizer)
    val, calib = recipe.ranking_batches(device)
    children = range(supernet.num_children)
    epochs: list[float] = []
    tree: dict[int, list[float]] = {1: [], 64: []}  # prefix-tree nodes of one depth computed together
    for _ in range(rounds):
        epochs += [epoch for epoch, _ in timed_fit(module, dm, 2, device)]
        supernet.to(device)
        for block, spent in tree.items():
            spent += times(lambda: evaluate_children(supernet, children, val, calib, block=block), repeats)
    naive = times(lambda: evaluate_child_by_child(supernet, children, val, calib), max(1, repeats // 2))
    block = default_block(device)
    epoch, ranking = min(epochs), min(tree[block])
    ranking_flops, epoch_flops = _ranking_and_epoch_flops(supernet, dm, val, calib)
    return {"train_epoch_s": epoch, "ranking_s": ranking, "ranking_block": block,
            "ranking_node_by_node_s": min(tree[1]), "ranking_stacked_s": min(tree[64]),
            "ranking_child_by_child_s": min(naive), "ranking_over_epoch": ranking / epoch,
            "tree_speedup": min(naive) / ranking, "epochs_timed": len(epochs), "rankings_timed": len(tree[block]),
            "ranking_gflop": ranking_flops / 1e9,
            "epoch_gflop": epoch_flops / 1e9, "ranking_gflops_per_s": ranking_flops / ranking / 1e9,
            "epoch_gflops_per_s": epoch_flops / epoch / 1e9}


def _ranking_and_epoch_flops(supernet: Supernet, dm: ArrayDataModule, val: list, calib: list) -> tuple[int, float]:
    """Arithmetic (convolutions and matmuls, counted by torch) of one ranking, and of one training epoch: forward +
    backward of the average child at the training batch size, times the steps per epoch."""
    children = range(supernet.num_children)
    with FlopCounterMode(display=False) as counter:
        evaluate_children(supernet, children, val, calib)
    ranking = counter.get_total_flops()
    x, y = (t.to(next(supernet.parameters()).device) for t in next(iter(dm.train_dataloader())))
    with FlopCounterMode(display=False) as counter, torch.random.fork_rng():
        for child in children:
            F.cross_entropy(supernet(x, child), y).backward()
    supernet.zero_grad(set_to_none=True)
    return ranking, counter.get_total_flops() / len(children) * len(dm.train_dataloader())
