"""Training-free proxies: score children at initialisation, without training (and mostly without labels).

Per-child proxies build each child standalone with the same seed (`torch.manual_seed(seed)` before building):
- `params`: number of parameters; `flops`: multiply-adds of one example's forward, counted as NAS-Bench-201 counts
  its published FLOPs (convolutions and linear layers, biases included; pooling, BatchNorm and activations free);
- `synflow` (Tanaka et al., 2020): float64, every weight replaced by |w|, BatchNorm in eval mode, an all-ones input,
  R = sum of the logits; score = sum over parameters of w * dR/dw (data-free);
- `snip`: sum |w * dL/dw|, `grad_norm`: sum of the L2 norms of dL/dw, L = cross-entropy on one validation batch;
- `jacob_cov` (Mellor et al., 2021): the correlation of per-example input Jacobians of the summed logits,
  score = -sum(log(lambda + 1e-5) + 1 / (lambda + 1e-5)) over its eigenvalues;
- `nwot` (NASWOT): log-determinant of the Hamming-similarity kernel of the examples' ReLU (or GELU) codes: which
  units are active (GELU is positive exactly where its input is).
`freeflow` (FreeNAS/FreeFlow, as its authors implemented it) scores the whole space in one pass on a mixed supernet:
every op's output is weighted by an architecture weight alpha = 1, weights are |w|, float64, BatchNorm in eval mode, the
input is all ones, R = sum of the logits; an op scores |alpha * dR/dalpha| and a child the sum of its ops' scores.
Higher is better for every proxy (that is how they are ranked against the ground truth).
"""
from __future__ import annotations

import logging
import math
import time
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.errors import ConfigError, require
from benchmark.sharing import FullSharing
from benchmark.spaces import DataShape, SearchSpace
from benchmark.supernet import Supernet

log = logging.getLogger(__name__)
Batch = tuple[torch.Tensor, torch.Tensor]
DATA_FREE = ("params", "flops", "synflow", "freeflow")
NEEDS_DATA = ("snip", "grad_norm", "jacob_cov", "nwot")
PROXIES = DATA_FREE + NEEDS_DATA


def params(net: nn.Module, shape: DataShape, batch: Batch | None) -> float:
    return float(sum(p.numel() for p in net.parameters()))


def flops(net: nn.Module, shape: DataShape, batch: Batch | None) -> float:
    """Multiply-adds of one example's forward, by the rule of NAS-Bench-201's published "FLOPs" (its authors'
    `get_model_infos`, xautodl/utils/flop_benchmark.py), so that a child's score / 1e6 is the benchmark's figure: every
    output of a convolution costs (C_in / groups) x kernel size, every output of a linear layer C_in, plus one add for
    each output of a biased one; pooling, normalisation, activations and the sums of edges cost nothing. Beyond that
    rule, which never meets them: linear layers count at every position, and attention counts its q/k/v and output
    projections (applied without calling Linear modules) with their biases, and its two L x L products."""
    macs = 0

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor | tuple) -> None:
        nonlocal macs
        if isinstance(module, nn.modules.conv._ConvNd):
            per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
            macs += output.numel() * (per_output + (module.bias is not None))
        elif isinstance(module, nn.Linear):
            macs += output.numel() * (module.in_features + (module.bias is not None))
        else:  # nn.MultiheadAttention, batch_first
            length, dim = inputs[0].shape[-2], module.embed_dim
            biases = 3 * (module.in_proj_bias is not None) + (module.out_proj.bias is not None)
            macs += 4 * length * dim * dim + 2 * length * length * dim + biases * length * dim

    counted = (nn.modules.conv._ConvNd, nn.Linear, nn.MultiheadAttention)
    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, counted)]
    with torch.no_grad():
        net.eval()(torch.zeros(1, *shape.input_size))
    for h in hooks:
        h.remove()
    return float(macs)


def _linearised(net: nn.Module) -> nn.Module:
    """float64 copy with |w| everywhere and BatchNorm in eval mode (its init statistics: identity)."""
    net = net.double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    return net


def synflow(net: nn.Module, shape: DataShape, batch: Batch | None) -> float:
    net = _linearised(net)
    R = net(torch.ones(1, *shape.input_size, dtype=torch.float64)).sum()
    grads = torch.autograd.grad(R, list(net.parameters()))
    return float(sum((p.detach() * g).sum() for p, g in zip(net.parameters(), grads)))


def _loss_grads(net: nn.Module, batch: Batch) -> tuple[list[nn.Parameter], list[torch.Tensor]]:
    net.train()
    x, y = batch
    ps = [p for p in net.parameters() if p.requires_grad]
    return ps, list(torch.autograd.grad(F.cross_entropy(net(x), y), ps))


def snip(net: nn.Module, shape: DataShape, batch: Batch | None) -> float:
    ps, gs = _loss_grads(net, batch)
    return float(sum((p.detach() * g).abs().sum() for p, g in zip(ps, gs)))


def grad_norm(net: nn.Module, shape: DataShape, batch: Batch | None) -> float:
    _, gs = _loss_grads(net, batch)
    return float(sum(g.norm() for g in gs))


def jacob_cov(net: nn.Module, shape: DataShape, batch: Batch | None) -> float:
    net.train()
    x = batch[0].clone().requires_grad_(True)
    (jacobian,) = torch.autograd.grad(net(x).sum(), x)
    corr = torch.corrcoef(jacobian.flatten(1).double())
    corr = torch.nan_to_num(corr, nan=0.0)
    eig = torch.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-(torch.log(eig.clamp_min(0) + k) + 1.0 / (eig.clamp_min(0) + k)).sum())


def nwot(net: nn.Module, shape: DataShape, batch: Batch | None) -> float:
    x = batch[0]
    codes: list[torch.Tensor] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        codes.append((output > 0).flatten(1).double())

    hooks = [m.register_forward_hook(record) for m in net.modules() if isinstance(m, (nn.ReLU, nn.GELU))]
    with torch.no_grad():
        net.train()(x)
    for h in hooks:
        h.remove()
    require(bool(codes), "proxies", "nwot", "a network with ReLU or GELU activations (their codes are what it scores)")
    c = torch.cat(codes, dim=1)
    kernel = c @ c.T + (1 - c) @ (1 - c).T
    return float(torch.slogdet(kernel).logabsdet)


PER_CHILD: dict[str, Callable[[nn.Module, DataShape, Batch | None], float]] = {
    "params": params, "flops": flops, "synflow": synflow, "snip": snip, "grad_norm": grad_norm,
    "jacob_cov": jacob_cov, "nwot": nwot}


def freeflow(space: SearchSpace, shape: DataShape, seed: int = 0) -> dict[int, float]:
    """Scores of every child from one forward/backward of the mixed supernet: at each position of a path, the sum
    of its candidate units weighted by their alphas (works for chains and cells alike). Where a unit is a whole
    residual block (the transformer space), its alpha also weighs the block's identity path."""
    torch.manual_seed(seed)
    supernet = _linearised(Supernet(space, FullSharing(), shape))
    slots = space.slots()
    alphas = {u: torch.ones((), dtype=torch.float64, requires_grad=True) for s in slots if len(s) > 1 for u in s}

    def mixed(k: int, h: torch.Tensor) -> torch.Tensor:
        if len(slots[k]) == 1:
            return supernet.unit(slots[k][0], 0)(h)
        return sum(alphas[u] * supernet.unit(u, 0)(h) for u in slots[k])

    R = space.run(torch.ones(1, *shape.input_size, dtype=torch.float64), mixed).sum()
    grads = torch.autograd.grad(R, list(alphas.values()))
    op_score = {u: float((a.detach() * g).abs()) for (u, a), g in zip(alphas.items(), grads)}
    return {i: sum(op_score.get(u, 0.0) for u in space.path(arch)) for i, arch in enumerate(space.children())}


def score_children(space: SearchSpace, children: Sequence[int], shape: DataShape, proxies: Sequence[str],
                   batch: Batch | None = None, seed: int = 0) -> list[dict[str, float | str]]:
    """Rows (child, proxy, score, seconds) for every child and proxy. Data-based proxies need `batch`
    (one validation batch); data-free ones never look at it."""
    for p in proxies:
        require(p in PROXIES, "proxies", p, f"one of {list(PROXIES)}")
    if any(p in NEEDS_DATA for p in proxies):
        require(batch is not None, "proxies", [p for p in proxies if p in NEEDS_DATA], "a data batch for these")
    rows: list[dict[str, float | str]] = []
    if "freeflow" in proxies:
        start = time.perf_counter()
        scores = freeflow(space, shape, seed)
        seconds = (time.perf_counter() - start) / max(1, len(children))
        rows += [{"child": space.name(c), "proxy": "freeflow", "score": scores[c], "seconds": seconds}
                 for c in children]
    for p in proxies:
        if p == "freeflow":
            continue
        scored = []
        try:
            for c in children:
                torch.manual_seed(seed)
                net = space.build_child(c, shape)
                start = time.perf_counter()
                value = PER_CHILD[p](net, shape, batch)
                scored.append({"child": space.name(c), "proxy": p, "score": value,
                               "seconds": time.perf_counter() - start})
        except ConfigError as e:  # a proxy undefined on this space (e.g. nwot without activations): named, skipped
            log.warning("proxy %s skipped on %s (child %s): %s", p, type(space).__name__, space.name(c), e)
            continue
        rows += scored
    return rows
