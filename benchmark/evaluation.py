"""Evaluate children with the shared weights, BatchNorm re-calibrated per child.

Stale BatchNorm statistics rank children wrongly (they are averaged over whatever children trained last), so each child
first re-estimates the statistics of its own BN layers on a few training batches, then is measured on held-out data.

Doing that child by child repeats most of the work: children whose routes agree on the first units compute the same
activations there, and - because a BN layer's re-calibrated statistics depend only on the units before it - the same
statistics too. So routes are merged into a prefix tree and every node is computed once; the result is exactly the
per-child procedure (tested against it), at a fraction of the cost (149 instead of 320 unit calls on the default
space: 1 stem, 4 + 16 + 64 ops, 64 heads).

On a GPU those 149 calls are too small to fill it, so nodes of one depth that use the same unit copy also run as one
call on their inputs stacked along the batch (14 calls on the default space), with each BatchNorm split per node
(`_PerNodeBatchNorm`); on the CPU that is bit-identical to node by node (tested) but slower, so it is the GPU default.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.supernet import Supernet

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class ChildScore:
    child: int
    val_acc: float
    val_loss: float


@dataclass
class _Node:
    key: tuple[str, int]
    children: dict[tuple[str, int], "_Node"] = field(default_factory=dict)
    members: list[int] = field(default_factory=list)  # children whose route ends here
    stats: list[tuple[torch.Tensor, torch.Tensor] | None] | None = None  # re-calibrated (mean, var) per BN of its unit


def _prefix_tree(supernet: Supernet, children: Sequence[int]) -> list[_Node]:
    roots: dict[tuple[str, int], _Node] = {}
    for child in children:
        level, node = roots, None
        for key in supernet.routes[child]:
            node = level.setdefault(key, _Node(key))
            level = node.children
        node.members.append(child)
    return list(roots.values())


def _batchnorms(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@contextmanager
def preserved_state(module: nn.Module) -> Iterator[None]:
    """Restore every buffer, every BN momentum and the train/eval flags on exit: evaluation must not change training."""
    buffers = [(b, b.detach().clone()) for b in module.buffers()]
    momenta = [(bn, bn.momentum) for bn in _batchnorms(module)]
    modes = [(m, m.training) for m in module.modules()]
    try:
        yield
    finally:
        for b, saved in buffers:
            b.copy_(saved)
        for bn, momentum in momenta:
            bn.momentum = momentum
        for m, mode in modes:
            m.training = mode


def _has_batchnorm(supernet: Supernet, node: _Node) -> bool:
    return bool(_batchnorms(supernet.unit(*node.key))) or any(
        _has_batchnorm(supernet, c) for c in node.children.values())


class _PerNodeBatchNorm:
    """While active, each BatchNorm of a unit called on m nodes' inputs stacked along the batch ((m*n, C, ...)) acts as
    m separate BatchNorms, one per node, with the node's own statistics: the input is viewed as (n, m*C, ...) and
    normalised over m*C channels, which computes each channel exactly as a BatchNorm over C would. Calibrating
    (train mode) re-estimates every node's statistics from scratch (cumulative average, like momentum=None);
    measuring (eval mode) uses `stats` (per node, (mean, var) per BatchNorm) or, where a node has none,
    the BatchNorm's running statistics. The modules' own buffers are never written."""

    def __init__(self, bns: list[nn.modules.batchnorm._BatchNorm], m: int, calibrate: bool,
                 stats: Sequence[list[tuple[torch.Tensor, torch.Tensor] | None] | None]) -> None:
        self.bns, self.m, self.calibrate, self.batches = bns, m, calibrate, 0
        self.affine = [tuple(None if t is None else t.repeat(m) if m > 1 else t for t in (bn.weight, bn.bias))
                       for bn in bns]
        self.running: list[tuple[torch.Tensor, torch.Tensor] | None] = []
        for k, bn in enumerate(bns):
            if bn.running_mean is None:  # track_running_stats=False: batch statistics in both modes
                self.running.append(None)
            elif calibrate:
                self.running.append((torch.zeros_like(bn.running_mean).repeat(m),
                                     torch.ones_like(bn.running_var).repeat(m)))
            else:
                own = [(bn.running_mean, bn.running_var) if s is None else s[k] for s in stats]
                self.running.append(own[0] if m == 1 else (torch.cat([mean for mean, _ in own]),
                                                           torch.cat([var for _, var in own])))

    def __enter__(self) -> "_PerNodeBatchNorm":
        for k, bn in enumerate(self.bns):
            bn.forward = lambda x, k=k, bn=bn: self._forward(x, bn, self.running[k], *self.affine[k])
        return self

    def __exit__(self, *exc: object) -> None:
        for bn in self.bns:
            del bn.forward

    def step(self) -> None:
        """Count one calibration batch (all BatchNorms of the unit see it)."""
        self.batches += 1

    def _forward(self, x: torch.Tensor, bn: nn.modules.batchnorm._BatchNorm,
                 running: tuple[torch.Tensor, torch.Tensor] | None, weight: torch.Tensor | None,
                 bias: torch.Tensor | None) -> torch.Tensor:
        m, n, c, rest = self.m, x.shape[0] // self.m, x.shape[1], x.shape[2:]
        wide = x if m == 1 else x.reshape(m, n, c, *rest).transpose(0, 1).reshape(n, m * c, *rest)
        mean, var = running if running is not None else (None, None)
        factor = 1.0 / float(self.batches) if self.calibrate else 0.0  # what momentum=None averages with
        out = F.batch_norm(wide, mean, var, weight, bias, self.calibrate or running is None, factor, bn.eps)
        return out if m == 1 else out.reshape(n, m, c, *rest).transpose(0, 1).reshape(m * n, c, *rest)

    def node_stats(self, i: int) -> list[tuple[torch.Tensor, torch.Tensor] | None]:
        """Node i's re-estimated (mean, var) of each BatchNorm (None for one without running statistics)."""
        return [None if r is None else tuple(t.chunk(self.m)[i].clone() for t in r) for r in self.running]


def _run_unit(module: nn.Module, nodes: list[_Node], inputs: list[list[torch.Tensor]],
              calibrate: bool) -> list[list[torch.Tensor]]:
    """One call of `module` per batch on every node's input stacked along the batch; each node's outputs."""
    m = len(nodes)
    module.train(calibrate)
    with _PerNodeBatchNorm(_batchnorms(module), m, calibrate, [n.stats for n in nodes]) as bn:
        outputs = []
        for xs in zip(*inputs):
            bn.step()
            outputs.append(module(torch.cat(xs) if m > 1 else xs[0]).chunk(m))
    if calibrate:
        for i, node in enumerate(nodes):
            node.stats = bn.node_stats(i) if bn.bns else None
    return [list(per_node) for per_node in zip(*outputs)]


def _walk(supernet: Supernet, nodes: list[_Node], inputs: list[list[torch.Tensor]], block: int, calibrate: bool,
          scored: Callable[[_Node, list[torch.Tensor]], None]) -> None:
    """Run every node's unit on its parent's outputs, in blocks of at most `block` nodes of one depth, each block's
    descendants before the next block (so at most about `block` nodes' activations per depth are alive). Within a block,
    nodes that use the same unit copy (the same op under different parents) run as one stacked call: fewer, larger
    kernels, which is what a GPU needs. Calibrating, subtrees without BatchNorm are skipped (nothing to calibrate)."""
    for start in range(0, len(nodes), block):
        part, part_inputs = nodes[start:start + block], inputs[start:start + block]
        groups: dict[tuple[str, int], list[int]] = {}
        for i, node in enumerate(part):
            groups.setdefault(node.key, []).append(i)
        below: list[_Node] = []
        below_inputs: list[list[torch.Tensor]] = []
        for key, members in groups.items():
            outputs = _run_unit(supernet.unit(*key), [part[i] for i in members], [part_inputs[i] for i in members],
                                calibrate)
            for i, out in zip(members, outputs):
                if not calibrate:
                    scored(part[i], out)
                for child in part[i].children.values():
                    if not calibrate or _has_batchnorm(supernet, child):
                        below.append(child)
                        below_inputs.append(out)
        if below:
            _walk(supernet, below, below_inputs, block, calibrate, scored)


def default_block(device: torch.device) -> int:
    """Nodes stacked per call unless told: 64 on a GPU (fewer, larger kernels), 1 on a CPU (the work is arithmetic;
    stacking only adds copies)."""
    return 64 if device.type == "cuda" else 1


@torch.no_grad()
def evaluate_children(
    supernet: Supernet,
    children: Sequence[int],
    val_batches: Sequence[Batch],
    calib_batches: Sequence[torch.Tensor] = (),
    block: int | None = None,
) -> list[ChildScore]:
    """Accuracy and mean cross-entropy of each child on `val_batches`.

    With `calib_batches` (training inputs), each child's BN statistics are re-estimated on them first; without, the
    supernet's running statistics are used as they are. The supernet's state is left exactly as it was.
    `block`: prefix-tree nodes of one depth computed together (see `_walk`; default: `default_block`); on a GPU, 64
    turns the default space's 149 small calls into 14.
    Children that are not chains (cell DAGs) share no simple prefix: they are evaluated one by one.
    """
    if not supernet.space.is_chain:
        return evaluate_child_by_child(supernet, children, val_batches, calib_batches)
    if block is None:
        block = default_block(next(supernet.parameters()).device)
    roots = _prefix_tree(supernet, children)
    labels = [y for _, y in val_batches]
    pending: list[tuple[list[int], torch.Tensor, torch.Tensor]] = []  # read back once: one GPU sync, not hundreds

    def scored(node: _Node, outputs: list[torch.Tensor]) -> None:
        if node.members:
            for out, y in zip(outputs, labels):
                pending.append((node.members, F.cross_entropy(out, y, reduction="sum"), (out.argmax(dim=1) == y).sum()))

    with preserved_state(supernet):
        if calib_batches:
            calibrated = [r for r in roots if _has_batchnorm(supernet, r)]
            _walk(supernet, calibrated, [list(calib_batches)] * len(calibrated), block, True, scored)
        _walk(supernet, roots, [[x for x, _ in val_batches]] * len(roots), block, False, scored)
    loss = {c: 0.0 for c in children}
    correct = {c: 0 for c in children}
    if pending:
        losses = torch.stack([p[1] for p in pending]).tolist()
        corrects = torch.stack([p[2] for p in pending]).tolist()
        for (members, _, _), batch_loss, batch_correct in zip(pending, losses, corrects):
            for child in members:
                loss[child] += batch_loss
                correct[child] += batch_correct
    total = sum(len(y) for y in labels)
    return [ChildScore(c, correct[c] / total, loss[c] / total) for c in children]


@torch.no_grad()
def evaluate_child_by_child(
    supernet: Supernet,
    children: Sequence[int],
    val_batches: Sequence[Batch],
    calib_batches: Sequence[torch.Tensor] = (),
) -> list[ChildScore]:
    """The definition `evaluate_children` implements faster: re-calibrate and measure one child at a time.

    Kept as the reference for tests and as the baseline of the speed benchmark.
    """
    scores = []
    with preserved_state(supernet):
        for child in children:
            modules = supernet.child_modules(child)
            if calib_batches:
                bns = [bn for m in modules for bn in _batchnorms(m)]
                for bn in bns:
                    bn.reset_running_stats()
                    bn.momentum = None
                for m in modules:
                    m.train()
                for x in calib_batches:
                    supernet(x, child)
            for m in modules:
                m.eval()
            loss, correct, total = 0.0, 0, 0
            for x, y in val_batches:
                out = supernet(x, child)
                loss += float(F.cross_entropy(out, y, reduction="sum"))
                correct += int((out.argmax(dim=1) == y).sum())
                total += len(y)
            scores.append(ChildScore(child, correct / total, loss / total))
    return scores
