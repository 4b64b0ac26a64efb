"""Speed benchmark: `python -m benchmark.perf [--quick] [--json PATH]`.

Prints each figure as a ratio against a baseline measured in the same process (machines are noisy):
- ranking cost: ranking every child (BatchNorm re-calibration included) / one supernet training epoch through Lightning
  (interleaved rounds, fastest of each), with the prefix tree computed node by node and with up to 64 nodes of one
  depth stacked into one call;
- prefix-tree evaluation vs. evaluating child by child (same numbers, tested);
- ground truth: children trained side by side (stacked) vs. one after another, same recipe and batches; and one
  plain SGD step of a stack vs. its children's steps alone (what the stacked kernels themselves earn);
- loop overhead: supernet steps through the LightningModule vs. a hand-written loop doing the same work, epochs
  alternating; and Lightning's own per-step cost (a bare LightningModule doing the plain step);
- memory of every sharing degree on the default space: parameters allocated, and the peak tensor memory of training
  (parameters, buffers, momentum, gradients, saved activations);
- arithmetic intensity: achieved GFLOP/s of a supernet training step vs. this machine's matrix-multiply peak, and the
  rates of the kernels behind ranking (a small convolution) and side-by-side ground truth (grouped vs. separate);
- threads: torch's own intra-op thread count vs. the one `threads: auto` chooses (benchmark/threads.py), on one
  training epoch plus one ranking, alternating, on the machine as it is and with one busy process per usable core;
- training-free proxies: seconds to score all children of the default space, per proxy, and FreeFlow on all 15,625
  NAS-Bench-201 cells;
- with --spaces: each search space's training step and ranking cost on MNIST-1D, and its step on CIFAR-10-sized batches.

`--device cuda` measures the same figures on the first GPU (Lightning with `accelerator="gpu"`, ground truth with
`trainer=gpu`, the matmul peak at 8192², which fills a GPU); the proxies are CPU-only and are skipped there.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from functools import partial
from pathlib import Path
from typing import Callable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.data import MNIST1DDataModule
from benchmark.errors import ConfigError
from benchmark.evaluation import default_block, evaluate_child_by_child, evaluate_children
from benchmark.module import SupernetModule
from benchmark.samplers import UniformSampler
from benchmark.sharing import FullSharing
from benchmark.spaces import ChainSpace, DataShape
from benchmark.supernet import Supernet


def _synchronize() -> None:
    """Wait for queued GPU work, so that a host clock reads work done rather than work launched (CPU: no-op)."""
    if torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _times(fn: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        _synchronize()
        start = time.perf_counter()
        fn()
        _synchronize()
        times.append(time.perf_counter() - start)
    return times


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    return statistics.median(_times(fn, repeats))


class _EpochClock(pl.Callback):
    """Lightning epochs timed start to start (so every epoch-end hook counts), with `between` (if given) run and timed
    before each one: a baseline measured seconds apart from the epoch it is compared with."""

    def __init__(self, between: Callable[[], object] | None = None) -> None:
        self.between, self.mark, self.last = between, None, 0.0
        self.pairs: list[tuple[float, float]] = []  # (Lightning epoch, baseline run before it)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._close()
        self.last = _times(self.between, 1)[0] if self.between is not None else 0.0
        _synchronize()
        self.mark = time.perf_counter()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._close()

    def _close(self) -> None:
        if self.mark is not None:
            _synchronize()
            self.pairs.append((time.perf_counter() - self.mark, self.last))


def _accelerator(device: torch.device) -> str:
    return "gpu" if device.type == "cuda" else "cpu"


def _timed_fit(module: pl.LightningModule, dm: pl.LightningDataModule, epochs: int, device: torch.device,
               between: Callable[[], object] | None = None) -> list[tuple[float, float]]:
    """`epochs` timed epochs through a fresh Trainer (plus a first one, dropped: it pays for warm-up). Lightning moves
    the module back to the CPU when fit ends."""
    clock = _EpochClock(between)
    pl.Trainer(max_epochs=epochs + 1, accelerator=_accelerator(device), devices=1, logger=False,
               enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
               callbacks=[clock]).fit(module, datamodule=dm)
    return clock.pairs[1:]


def ranking_cost(cache_dir: str, rounds: int, repeats: int, device: torch.device,
                 calib_batches: int = 2) -> dict[str, float]:
    """Ranking every child vs. a training epoch, in interleaved rounds (a few epochs, then a few rankings of the
    weights they reached) so that a noisy spell of the machine hits both; each side's figure is its fastest run
    (noise only ever adds time)."""
    pl.seed_everything(0)
    dm = MNIST1DDataModule(cache_dir=cache_dir)
    dm.setup()
    space = ChainSpace()
    supernet = Supernet(space, FullSharing(), dm.shape)
    module = SupernetModule(supernet, UniformSampler(space), partial(torch.optim.SGD, lr=0.05, momentum=0.9,
                                                                      weight_decay=1e-4))
    val = [(x.to(device), y.to(device)) for x, y in dm.val_dataloader()]
    calib = [x.to(device) for x in dm.calibration_inputs(calib_batches)]
    children = range(supernet.num_children)
    epochs: list[float] = []
    tree: dict[int, list[float]] = {1: [], 64: []}  # prefix-tree nodes of one depth computed together
    for _ in range(rounds):
        epochs += [epoch for epoch, _ in _timed_fit(module, dm, 2, device)]
        supernet.to(device)
        for block, times in tree.items():
            times += _times(lambda: evaluate_children(supernet, children, val, calib, block=block), repeats)
    naive = _times(lambda: evaluate_child_by_child(supernet, children, val, calib), max(1, repeats // 2))
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


def _ranking_and_epoch_flops(supernet: Supernet, dm: MNIST1DDataModule, val: list, calib: list) -> tuple[int, float]:
    """Arithmetic (convolutions and matmuls, counted by torch) of one ranking, and of one training epoch: forward +
    backward of the average child at the training batch size, times the steps per epoch."""
    from torch.utils.flop_counter import FlopCounterMode

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


def ground_truth_throughput(cache_dir: str, children: int, epochs: int, chunk: int,
                            device: torch.device) -> dict[str, float]:
    from hydra import compose, initialize_config_dir

    from benchmark.tasks.ground_truth import train_chunk

    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose("config", overrides=[f"ground_truth.epochs={epochs}", f"paths.cache_dir={cache_dir}",
                                           "paths.root_dir=.", "paths.output_dir=.",
                                           f"trainer={_accelerator(device)}"])
    dm = MNIST1DDataModule(cache_dir=cache_dir)
    dm.setup()
    space, ids = ChainSpace(), list(range(children))
    start = time.perf_counter()
    stacked = [r for i in range(0, children, chunk) for r in train_chunk(cfg, space, dm, 0, ids[i:i + chunk])]
    t_stacked = time.perf_counter() - start
    start = time.perf_counter()
    alone = [r for c in ids for r in train_chunk(cfg, space, dm, 0, [c])]
    t_alone = time.perf_counter() - start
    step_stacked, step_alone = _ground_truth_steps(space, dm, ids[:chunk], repeats=10, device=device)
    return {"children": children, "epochs": epochs, "chunk": chunk, "stacked_s": t_stacked,
            "one_by_one_s": t_alone, "speedup": t_alone / t_stacked,
            "max_abs_test_acc_diff": max(abs(a["test_acc"] - b["test_acc"]) for a, b in zip(stacked, alone)),
            "step_children": len(ids[:chunk]), "step_stacked_s": step_stacked, "step_one_by_one_s": step_alone,
            "step_speedup": step_alone / step_stacked}


def _ground_truth_steps(space: ChainSpace, dm: MNIST1DDataModule, children: list[int], repeats: int,
                        device: torch.device) -> tuple[float, float]:
    """One SGD step of `children` stacked vs. one step of each alone, in plain PyTorch (no Trainer, no evaluation),
    alternating: how much of the ground-truth figure the stacked kernels themselves earn. Median seconds of each."""
    from benchmark.stacked import StackedChildrenModule, side_by_side

    sgd = partial(torch.optim.SGD, lr=0.05, momentum=0.9, weight_decay=1e-4)
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

    times: dict[Callable[[], None], list[float]] = {stacked: [], one_by_one: []}
    for _ in range(repeats):
        for fn, spent in times.items():
            spent += _times(fn, 3)
    return statistics.median(times[stacked]), statistics.median(times[one_by_one])


class _BareStep(pl.LightningModule):
    """The plain loop's step as a LightningModule (manual optimization, no metrics): what Lightning's own loop costs."""

    def __init__(self, net: nn.Module, step: Callable[[nn.Module, tuple], torch.Tensor]) -> None:
        super().__init__()
        self.net, self.step = net, step
        self.automatic_optimization = False

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)

    def training_step(self, batch: tuple, batch_idx: int) -> None:
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(self.step(self.net, batch))
        optimizer.step()


def _alternating(module: pl.LightningModule, plain_net: nn.Module, step: Callable[[nn.Module, tuple], torch.Tensor],
                 dm: pl.LightningDataModule, epochs: int, device: torch.device) -> tuple[float, float, float]:
    """Lightning epochs of `module` alternating with plain-loop epochs of `plain_net` (Lightning, plain, Lightning,
    ...) so both see the same machine: median seconds per step of each, and the median ratio of adjacent pairs."""
    plain_net.to(device)
    optimizer = torch.optim.SGD(plain_net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)

    def plain_epoch() -> None:
        for batch in dm.train_dataloader():
            loss = step(plain_net, [t.to(device) for t in batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    pairs, steps = _timed_fit(module, dm, epochs, device, between=plain_epoch), len(dm.train_dataloader())
    return (statistics.median(p[0] for p in pairs) / steps, statistics.median(p[1] for p in pairs) / steps,
            statistics.median(a / b for a, b in pairs))


def loop_overhead(cache_dir: str, epochs: int, device: torch.device) -> dict[str, float]:
    """Supernet steps through SupernetModule vs. a hand-written loop doing the same sampling, forward, backward and
    step on the same batches; and, to tell Lightning's own per-step cost from the module's, a bare LightningModule
    doing exactly the plain step, on the supernet and on a linear model (where the step itself costs almost nothing).
    """
    dm = MNIST1DDataModule(cache_dir=cache_dir)
    dm.setup()
    space = ChainSpace()
    results: dict[str, float] = {}

    def supernet() -> tuple[Supernet, Callable[[nn.Module, tuple], torch.Tensor]]:
        torch.manual_seed(0)
        sampler = UniformSampler(space)
        return Supernet(space, FullSharing(), dm.shape), lambda net, b: F.cross_entropy(net(b[0], sampler.sample()[0]),
                                                                                       b[1])

    net, _ = supernet()
    module = SupernetModule(net, UniformSampler(space), partial(torch.optim.SGD, lr=0.05, momentum=0.9,
                                                                 weight_decay=1e-4))
    lightning, plain, ratio = _alternating(module, *supernet(), dm, epochs, device)
    results.update(lightning_steps_per_s=1 / lightning, plain_steps_per_s=1 / plain, overhead_ratio=ratio)
    bare, plain, ratio = _alternating(_BareStep(*supernet()), *supernet(), dm, epochs, device)
    results.update(bare_lightning_ratio=ratio)

    def linear() -> tuple[nn.Module, Callable[[nn.Module, tuple], torch.Tensor]]:
        torch.manual_seed(0)
        net = nn.Linear(math.prod(dm.shape.input_size), dm.shape.num_classes)
        return net, lambda n, b: F.cross_entropy(n(b[0].flatten(1)), b[1])

    bare, plain, _ = _alternating(_BareStep(*linear()), *linear(), dm, epochs, device)
    results.update(lightning_step_cost_ms=(bare - plain) * 1e3, linear_plain_step_ms=plain * 1e3)
    return results


def sharing_memory() -> list[dict[str, float]]:
    """Parameters and buffers each sharing degree allocates for the default space (copies only where used)."""
    from benchmark.sharing import KeywordSharing, NoSharing, PartialSharing, PrefixSharing

    shape = MNIST1DDataModule.shape
    policies = {"full": FullSharing(), "partial m=4 similarity": PartialSharing(4, "similarity"),
                "partial m=16 random": PartialSharing(16, "random"), "prefix k=0": PrefixSharing(0),
                "prefix k=2": PrefixSharing(2), "keyword convs shared": KeywordSharing(["stem", "layers.*.conv*"]),
                "none": NoSharing()}
    rows = []
    for name, policy in policies.items():
        net = Supernet(ChainSpace(), policy, shape)
        params = sum(p.numel() for p in net.parameters())
        rows.append({"policy": name, "parameters": params,
                     "bytes": sum(t.numel() * t.element_size() for t in [*net.parameters(), *net.buffers()]),
                     "copies": sum(1 for _ in net._units)})
    return rows


def training_memory(steps: int = 8) -> dict[str, dict[str, int]]:
    """Peak tensor memory of training each sharing degree on the default space, in bytes, by kind: parameters and
    buffers the supernet allocates, SGD momentum (for every copy trained so far), the gradients of one step, and the
    activations saved for its backward (unique storages, counted as autograd saves them). Counted, not sampled
    from the process, so it is exact and not drowned by the interpreter's own footprint."""
    from benchmark.sharing import NoSharing, PartialSharing, PrefixSharing

    shape = MNIST1DDataModule.shape
    x, y = torch.randn(128, *shape.input_size), torch.randint(shape.num_classes, (128,))
    policies = {"full": FullSharing(), "partial m=4": PartialSharing(4), "partial m=16": PartialSharing(16),
                "prefix k=2": PrefixSharing(2), "none": NoSharing()}
    out = {}
    for name, policy in policies.items():
        torch.manual_seed(0)
        net = Supernet(ChainSpace(), policy, shape)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        sampler = UniformSampler(ChainSpace())
        saved: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            storage = t.untyped_storage()
            saved[storage.data_ptr()] = storage.nbytes()
            return t

        grads = 0
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            saved.clear()
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                loss = torch.nn.functional.cross_entropy(net(x, sampler.sample()[0]), y)
            loss.backward()
            grads = max(grads, sum(p.grad.nbytes for p in net.parameters() if p.grad is not None))
            optimizer.step()
        params = sum(p.nbytes for p in net.parameters())
        buffers = sum(b.nbytes for b in net.buffers())
        momentum = sum(st["momentum_buffer"].nbytes for st in optimizer.state.values() if "momentum_buffer" in st)
        activations = sum(saved.values())
        out[name] = {"parameters": params, "buffers": buffers, "momentum": momentum, "gradients": grads,
                     "activations": activations, "peak": params + buffers + momentum + grads + activations}
    return out


def arithmetic_intensity(repeats: int, device: torch.device) -> dict[str, float]:
    """FLOPs of one training step (forward + backward, counted by torch) over its time, against a large float32 matmul
    (1024² on a CPU; 8192² on a GPU, which a smaller one does not fill)."""
    from torch.utils.flop_counter import FlopCounterMode

    shape = MNIST1DDataModule.shape
    torch.manual_seed(0)
    net = Supernet(ChainSpace(), FullSharing(), shape).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    x = torch.randn(128, *shape.input_size, device=device)
    y = torch.randint(shape.num_classes, (128,), device=device)

    def step() -> None:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(x, 0), y).backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        step()
    step_flops = counter.get_total_flops()
    step_s = _median_time(step, repeats * 5)
    n = 8192 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b  # warm-up (library handles)
    matmul_s = _median_time(lambda: a @ b, repeats * 3)
    achieved, peak = step_flops / step_s / 1e9, 2 * n ** 3 / matmul_s / 1e9
    return {"step_gflop": step_flops / 1e9, "step_s": step_s, "achieved_gflops": achieved, "matmul_gflops": peak,
            "matmul_size": n, "fraction_of_peak": achieved / peak}


def kernel_rates(repeats: int, device: torch.device) -> dict[str, float]:
    """The kernels behind the ranking and ground-truth figures: one 16-channel 3-tap convolution at the evaluation
    batch (400 x 40 positions), in GFLOP/s; and one layer of 16 children at batch 128, forward + backward, as 16
    separate convolutions vs. one grouped convolution (how side-by-side training stacks children)."""
    shape, n, width = MNIST1DDataModule.shape, 16, 16
    x, w = torch.randn(400, width, shape.length, device=device), torch.randn(width, width, 3, device=device)
    conv_s = _median_time(lambda: F.conv1d(x, w, padding=1), repeats * 20)
    xs = [torch.randn(128, width, shape.length, device=device, requires_grad=True) for _ in range(n)]
    ws = [torch.randn(width, width, 3, device=device, requires_grad=True) for _ in range(n)]
    xg = torch.randn(128, n * width, shape.length, device=device, requires_grad=True)
    wg = torch.randn(n * width, width, 3, device=device, requires_grad=True)
    separate = _median_time(lambda: sum(F.conv1d(a, b, padding=1).square().sum() for a, b in zip(xs, ws)).backward(),
                            repeats * 5)
    grouped = _median_time(lambda: F.conv1d(xg, wg, padding=1, groups=n).square().sum().backward(), repeats * 5)
    return {"conv_gflops": 2 * x.numel() * width * 3 / conv_s / 1e9, "layer_separate_s": separate,
            "layer_grouped_s": grouped}


def space_costs(cache_dir: str, repeats: int, device: torch.device) -> dict[str, dict[str, float]]:
    """Per space: median supernet training step (batch 128) and one ranking on MNIST-1D; step at batch 64 on
    CIFAR-10-sized random images for spaces that take images."""
    from benchmark.spaces import DeeperInsightsSpace, NB201Space, TransformerSpace

    dm = MNIST1DDataModule(cache_dir=cache_dir)
    dm.setup()
    val = [(x.to(device), y.to(device)) for x, y in dm.val_dataloader()]
    calib = [x.to(device) for x in dm.calibration_inputs(2)]
    x, y = (t.to(device) for t in next(iter(dm.train_dataloader())))
    image = DataShape(channels=3, length=32, num_classes=10, height=32)
    out = {}
    for name, space in {"chain": ChainSpace(), "deeper_insights": DeeperInsightsSpace(), "nb201": NB201Space(),
                        "transformer": TransformerSpace()}.items():
        row = {}
        for label, shape, xs, ys in [("mnist1d", dm.shape, x, y),
                                     ("cifar10", image, torch.randn(64, 3, 32, 32, device=device),
                                      torch.randint(10, (64,), device=device))]:
            try:
                space.check_data(shape)
            except ConfigError:  # a space for sequences only
                continue
            torch.manual_seed(0)
            net = Supernet(space, FullSharing(), shape).to(device)
            optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
            sampler = UniformSampler(space)

            def step() -> None:
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(net(xs, sampler.sample()[0]), ys).backward()
                optimizer.step()

            step()  # warm-up
            row[f"{label}_step_s"] = _median_time(step, repeats * 3)
            if label == "mnist1d":
                row["mnist1d_epoch_s"] = row["mnist1d_step_s"] * len(dm.train_dataloader())
                row["ranked_children"] = len(space.ranked_children())
                row["ranking_s"] = _median_time(
                    lambda: evaluate_children(net, space.ranked_children(), val, calib), max(1, repeats // 2))
        out[name] = row
    return out


def thread_choice(cache_dir: str, pairs: int, device: torch.device, default: int) -> dict[str, float]:
    """Torch's own intra-op thread count (`default`, what it took at start-up) vs. the one `threads: auto` chooses for
    a single run here (benchmark/threads.py), on what a run does every epoch: one training epoch of the default
    supernet and one ranking of all its children. The two counts alternate in this process, first on the machine as
    it is ("idle"), then with one background busy process per usable core ("loaded"); each ratio is the median of
    adjacent pairs, default / chosen (above 1: the chosen count is faster)."""
    import subprocess
    import sys

    from benchmark import threads

    cores, where = threads.usable_cores()
    chosen, reason = threads.choose(threads.AUTO, cores, 1, None, where)
    pl.seed_everything(0)
    dm = MNIST1DDataModule(cache_dir=cache_dir)
    dm.setup()
    space = ChainSpace()
    supernet = Supernet(space, FullSharing(), dm.shape).to(device)
    sampler = UniformSampler(space)
    optimizer = torch.optim.SGD(supernet.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    batches = [[t.to(device) for t in batch] for batch in dm.train_dataloader()]
    val = [(x.to(device), y.to(device)) for x, y in dm.val_dataloader()]
    calib = [x.to(device) for x in dm.calibration_inputs(2)]

    def epoch_and_ranking() -> None:
        supernet.train()
        for x, y in batches:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(supernet(x, sampler.sample()[0]), y).backward()
            optimizer.step()
        evaluate_children(supernet, range(supernet.num_children), val, calib)

    def alternate() -> tuple[float, float, float]:
        times: tuple[list[float], list[float]] = ([], [])  # default, chosen (the same count on a 1-core machine)
        for _ in range(pairs):
            for count, spent in zip((default, chosen), times):
                torch.set_num_threads(count)
                spent += _times(epoch_and_ranking, 1)
        ratios = [a / b for a, b in zip(*times)]
        return statistics.median(times[0]), statistics.median(times[1]), statistics.median(ratios)

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


def proxy_speed(cache_dir: str) -> dict[str, float]:
    from benchmark.proxies import PROXIES, score_children

    dm = MNIST1DDataModule(cache_dir=cache_dir)
    dm.setup()
    x, y = dm.splits["val"].tensors
    space = ChainSpace()
    out = {}
    for proxy in PROXIES:
        start = time.perf_counter()
        score_children(space, range(space.num_children), dm.shape, [proxy], (x[:128], y[:128]))
        out[proxy] = time.perf_counter() - start
    from benchmark.proxies import freeflow
    from benchmark.spaces import NB201Space

    start = time.perf_counter()
    freeflow(NB201Space(), DataShape(channels=3, length=32, num_classes=10, height=32))
    out["freeflow_nb201_all_15625"] = time.perf_counter() - start
    return out


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer epochs and repeats (CI smoke)")
    parser.add_argument("--cache-dir", default=".cache")
    parser.add_argument("--chunk", type=int, default=16, help="children trained side by side")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--spaces", action="store_true", help="also the cost of every search space")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where to measure (default: cpu)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is visible (torch.cuda.is_available() is False); use --device cpu")
    device = torch.device(args.device)
    default_threads = torch.get_num_threads()
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu, {default_threads} threads"
    results: dict = {"device": name}
    results["threads"] = thread_choice(args.cache_dir, pairs=2 if args.quick else 8, device=device,
                                       default=default_threads)
    results["ranking_cost"] = ranking_cost(args.cache_dir, rounds=1 if args.quick else 4,
                                           repeats=2 if args.quick else 3, device=device)
    results["ground_truth"] = ground_truth_throughput(args.cache_dir, children=8 if args.quick else 32,
                                                      epochs=1 if args.quick else 3, chunk=args.chunk, device=device)
    results["loop_overhead"] = loop_overhead(args.cache_dir, epochs=2 if args.quick else 20, device=device)
    results["sharing_memory"] = sharing_memory()
    results["training_memory"] = training_memory()
    results["arithmetic_intensity"] = arithmetic_intensity(repeats=2 if args.quick else 7, device=device)
    if device.type == "cpu":
        results["proxy_seconds_all_children"] = proxy_speed(args.cache_dir)
    results["kernels"] = kernel_rates(repeats=2 if args.quick else 7, device=device)
    r = results["ranking_cost"]
    print(f"device: {results['device']}  (default space: 64 children, MNIST-1D, 800 validation examples)")
    print(f"one supernet training epoch (Lightning) : {r['train_epoch_s'] * 1e3:8.1f} ms")
    print(f"rank all children, prefix tree          : {r['ranking_s'] * 1e3:8.1f} ms   "
          f"ratio to an epoch: {r['ranking_over_epoch']:.2f}  (default block={r['ranking_block']}; node by node "
          f"{r['ranking_node_by_node_s'] * 1e3:.1f} ms, stacked 64 nodes {r['ranking_stacked_s'] * 1e3:.1f} ms)")
    print(f"rank all children, child by child       : {r['ranking_child_by_child_s'] * 1e3:8.1f} ms   "
          f"prefix tree is {r['tree_speedup']:.2f}x faster")
    print(f"arithmetic: a ranking does {r['ranking_gflop']:.2f} GFLOP = {r['ranking_gflop'] / r['epoch_gflop']:.1f}x an "
          f"epoch's {r['epoch_gflop']:.2f}, at {r['ranking_gflops_per_s']:.1f} vs {r['epoch_gflops_per_s']:.1f} GFLOP/s")
    t = results["threads"]
    print(f"threads, epoch + ranking: torch's own {t['default_threads']} vs chosen {t['chosen_threads']} "
          f"({t['reason']}): the machine as it is (load {t['load_at_start']:.1f}) {t['idle_default_s'] * 1e3:.0f} vs "
          f"{t['idle_chosen_s'] * 1e3:.0f} ms -> "
          f"{t['idle_ratio']:.2f}; under load ({t['burners']} busy processes) {t['loaded_default_s'] * 1e3:.0f} vs "
          f"{t['loaded_chosen_s'] * 1e3:.0f} ms -> {t['loaded_ratio']:.2f} (default / chosen)")
    g = results["ground_truth"]
    print(f"ground truth, {g['children']} children x {g['epochs']} epochs: side by side (chunk {g['chunk']}) "
          f"{g['stacked_s']:.1f} s, one after another {g['one_by_one_s']:.1f} s -> {g['speedup']:.2f}x "
          f"(max |test acc difference| {g['max_abs_test_acc_diff']:.4f}); one SGD step without Lightning: "
          f"{g['step_stacked_s'] * 1e3:.1f} ms for {g['step_children']} stacked, {g['step_one_by_one_s'] * 1e3:.1f} ms one after "
          f"another -> {g['step_speedup']:.2f}x")
    o = results["loop_overhead"]
    print(f"supernet steps/s: Lightning {o['lightning_steps_per_s']:.0f}, plain loop {o['plain_steps_per_s']:.0f} "
          f"-> overhead ratio {o['overhead_ratio']:.2f} (a bare LightningModule doing the plain step: "
          f"{o['bare_lightning_ratio']:.2f}; Lightning's own loop costs {o['lightning_step_cost_ms']:.2f} ms per step)")
    print("parameter memory per sharing degree (default space):")
    for m in results["sharing_memory"]:
        print(f"  {m['policy']:<24} {m['parameters']:>9,} parameters  {m['bytes'] / 1024:>8.1f} KiB  "
              f"{m['copies']:>4} unit copies")
    print("peak tensor memory of training, batch 128 (KiB: parameters + buffers + momentum + gradients + activations):")
    for name, m in results["training_memory"].items():
        print(f"  {name:<14} {m['peak'] / 1024:8.1f} = {m['parameters'] / 1024:.1f} + {m['buffers'] / 1024:.1f} + "
              f"{m['momentum'] / 1024:.1f} + {m['gradients'] / 1024:.1f} + {m['activations'] / 1024:.1f}")
    a = results["arithmetic_intensity"]
    print(f"training step (default supernet, batch 128): {a['step_gflop']:.3f} GFLOP in {a['step_s'] * 1e3:.1f} ms = "
          f"{a['achieved_gflops']:.1f} GFLOP/s; {a['matmul_size']}^2 matmul peak {a['matmul_gflops']:.1f} GFLOP/s -> "
          f"{a['fraction_of_peak']:.1%} of peak")
    k = results["kernels"]
    print(f"kernels: a 16-channel 3-tap convolution at batch 400 runs at {k['conv_gflops']:.1f} GFLOP/s; a layer of 16 "
          f"children (batch 128, fwd + bwd) takes {k['layer_separate_s'] * 1e3:.1f} ms as separate convolutions, "
          f"{k['layer_grouped_s'] * 1e3:.1f} ms as one grouped convolution")
    if "proxy_seconds_all_children" in results:
        proxy = dict(results["proxy_seconds_all_children"])
        nb201 = proxy.pop("freeflow_nb201_all_15625")
        print("training-free proxies, seconds for all 64 children: " +
              ", ".join(f"{k} {v:.2f}" for k, v in proxy.items()))
        print(f"FreeFlow on all 15,625 NAS-Bench-201 cells (CIFAR-10 shapes, float64): {nb201:.2f} s")
    if args.spaces:
        results["spaces"] = space_costs(args.cache_dir, repeats=2 if args.quick else 5, device=device)
        print("search spaces (full sharing; MNIST-1D step at batch 128, ranking with 2 calibration batches; "
              "CIFAR-10-sized step at batch 64):")
        for name, c in results["spaces"].items():
            cifar = f"  cifar10 step {c['cifar10_step_s'] * 1e3:7.1f} ms" if "cifar10_step_s" in c else ""
            print(f"  {name:<16} step {c['mnist1d_step_s'] * 1e3:6.1f} ms  epoch ~{c['mnist1d_epoch_s']:5.2f} s  "
                  f"ranking {c['ranked_children']:>3} children {c['ranking_s']:6.2f} s{cifar}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
