"""Threads: torch's own intra-op thread count vs. the one `threads: auto` chooses (benchmark/threads.py), on the machine
as it is and with one busy process per usable core."""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from benchmark import threads
from benchmark.evaluation import evaluate_children
from benchmark.supernet import Supernet
from experiments.perf.clock import times
from experiments.perf.recipe import Recipe


def thread_choice(recipe: Recipe, pairs: int, device: torch.device, default: int) -> dict[str, float]:
    """Torch's own intra-op thread count (`default`, what it took at start-up) vs. the one `threads: auto` chooses for
    a single run here, on what a run does every epoch: one training epoch of the default supernet and one ranking of
    all its children. The two counts alternate in this process, first on the machine as it is ("idle"), then with one
    background busy process per usable core ("loaded"); each ratio is the median of adjacent pairs, default / chosen
    (above 1: the chosen count is faster)."""
    cores, where = threads.usable_cores()
    chosen, reason = threads.choose(threads.AUTO, cores, 1, None, where)
    pl.seed_everything(recipe.cfg.seed)
    dm, space = recipe.data, recipe.space()
    supernet = Supernet(space, recipe.sharing(), dm.shape).to(device)
    sampler = recipe.sampler(space)
    optimizer = recipe.optimizer(params=supernet.parameters())
    batches = [[t.to(device) for t in batch] for batch in dm.train_dataloader()]
    val, calib = recipe.ranking_batches(device)

    def epoch_and_ranking() -> None:
        supernet.train()
        for x, y in batches:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(supernet(x, sampler.sample()[0]), y).backward()
            optimizer.step()
        evaluate_children(supernet, range(supernet.num_children), val, calib)

    def alternate() -> tuple[float, float, float]:
        spent: tuple[list[float], list[float]] = ([], [])  # default, chosen (the same count on a 1-core machine)
        for _ in range(pairs):
            for count, seconds in zip((default, chosen), spent):
                torch.set_num_threads(count)
                seconds += times(epoch_and_ranking, 1)
        ratios = [a / b for a, b in zip(*spent)]
        return statistics.median(spent[0]), statistics.median(spent[1]), statistics.median(ratios)

    load = threads.machine_load()
    out = {"default_threads": default, "chosen_threads": chosen, "reason": reason,
           "load_at_start": -1.0 if load is None else load}
    torch.set_num_threads(chosen)
    epoch_and_ranking()  # warm-up
    try:
        out["idle_default_s"], out["idle_chosen_s"], out["idle_ratio"] = alternate()
        burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
        try:
            time.sleep(0.5)
            out["loaded_default_s"], out["loaded_chosen_s"], out["loaded_ratio"] = alternate()
        finally:
            for burner in burners:
                burner.kill()
                burner.wait()
        out["burners"] = len(burners)
    finally:
        torch.set_num_threads(default)
    return out
