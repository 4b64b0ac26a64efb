"""Arithmetic intensity: achieved GFLOP/s of a supernet training step vs. this machine's matrix-multiply peak, and the
rates of the kernels behind ranking (a small convolution) and side-by-side ground truth (grouped vs. separate)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmark.supernet import Supernet
from experiments.perf.clock import median_time
from experiments.perf.recipe import Recipe


def arithmetic_intensity(recipe: Recipe, repeats: int, device: torch.device) -> dict[str, float]:
    """FLOPs of one training step (forward + backward, counted by torch) over its time, against a large float32 matmul
    (1024² on a CPU; 8192² on a GPU, which a smaller one does not fill)."""
    shape = recipe.shape
    torch.manual_seed(recipe.cfg.seed)
    net = Supernet(recipe.space(), recipe.sharing(), shape).to(device)
    optimizer = recipe.optimizer(params=net.parameters())
    x = torch.randn(128, *shape.input_size, device=device)
    y = torch.randint(shape.num_classes, (128,), device=device)

    def step() -> None:
        optimizer.zero_grad()
        F.cross_entropy(net(x, 0), y).backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        step()
    step_flops = counter.get_total_flops()
    step_s = median_time(step, repeats * 5)
    n = 8192 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b  # warm-up (library handles)
    matmul_s = median_time(lambda: a @ b, repeats * 3)
    achieved, peak = step_flops / step_s / 1e9, 2 * n ** 3 / matmul_s / 1e9
    return {"step_gflop": step_flops / 1e9, "step_s": step_s, "achieved_gflops": achieved, "matmul_gflops": peak,
            "matmul_size": n, "fraction_of_peak": achieved / peak}


def kernel_rates(recipe: Recipe, repeats: int, device: torch.device) -> dict[str, float]:
    """The kernels behind the ranking and ground-truth figures: one 16-channel 3-tap convolution at the evaluation
    batch (400 x 40 positions), in GFLOP/s; and one layer of 16 children at batch 128, forward + backward, as 16
    separate convolutions vs. one grouped convolution (how side-by-side training stacks children)."""
    length, n, width = recipe.shape.length, 16, 16
    x, w = torch.randn(400, width, length, device=device), torch.randn(width, width, 3, device=device)
    conv_s = median_time(lambda: F.conv1d(x, w, padding=1), repeats * 20)
    xs = [torch.randn(128, width, length, device=device, requires_grad=True) for _ in range(n)]
    ws = [torch.randn(width, width, 3, device=device, requires_grad=True) for _ in range(n)]
    xg = torch.randn(128, n * width, length, device=device, requires_grad=True)
    wg = torch.randn(n * width, width, 3, device=device, requires_grad=True)
    separate = median_time(lambda: sum(F.conv1d(a, b, padding=1).square().sum() for a, b in zip(xs, ws)).backward(),
                           repeats * 5)
    grouped = median_time(lambda: F.conv1d(xg, wg, padding=1, groups=n).square().sum().backward(), repeats * 5)
    return {"conv_gflops": 2 * x.numel() * width * 3 / conv_s / 1e9, "layer_separate_s": separate,
            "layer_grouped_s": grouped}
