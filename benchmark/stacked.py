"""Train many independent children as one network: the same batches, disjoint weights, one optimizer step.

Ground truth means training every child alone, the most expensive step of every study. Children trained one after
another on the same batches can equally be trained side by side: their weights are disjoint, so the gradient of the
summed loss with respect to each child's weights is that child's own gradient, and SGD (momentum and weight decay
included) updates every element independently. Stacking n copies of a layer into one grouped convolution turns n small
calls into one large one. A stack of one child is the standalone child (tested), and a stack of n equals n stacks of
one up to floating-point rounding (tested).

Rules: Conv1d -> grouped Conv1d; BatchNorm1d -> one BatchNorm1d over all channels; channel-wise modules (activations,
pooling, SegmentMean) are used as they are; Flatten + Linear (the head) -> per-child batched matmul.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.hand_stepped import HandStepped
from benchmark.spaces import DataShape, SearchSpace
from benchmark.spaces.ops.chain import SegmentMean

CHANNELWISE = (nn.ReLU, nn.MaxPool1d, nn.AvgPool1d, nn.Identity, SegmentMean)


class StackedLinear(nn.Module):
    """n independent Linear layers: (B, n, in) -> (B, n, out)."""

    def __init__(self, layers: Sequence[nn.Linear]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))  # (n, out, in)
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))  # (n, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bni,noi->bno", x, self.weight) + self.bias


class GroupFlatten(nn.Module):
    """(B, n*C, P) -> (B, n, C*P): flatten each child's features separately."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], self.n, -1)


def stack_modules(modules: Sequence[nn.Module]) -> nn.Module:
    """One module computing `modules` side by side on channel-stacked inputs (B, n*C_in, L)."""
    first, n = modules[0], len(modules)
    if isinstance(first, nn.Sequential):
        return nn.Sequential(*(stack_modules([m[i] for m in modules]) for i in range(len(first))))
    if isinstance(first, nn.Conv1d):
        conv = nn.Conv1d(first.in_channels * n, first.out_channels * n, first.kernel_size, stride=first.stride,
                         padding=first.padding, dilation=first.dilation, groups=first.groups * n,
                         bias=first.bias is not None)
        with torch.no_grad():
            conv.weight.copy_(torch.cat([m.weight for m in modules]))
            if first.bias is not None:
                conv.bias.copy_(torch.cat([m.bias for m in modules]))
        return conv
    if isinstance(first, nn.BatchNorm1d):
        bn = nn.BatchNorm1d(first.num_features * n, eps=first.eps, momentum=first.momentum, affine=first.affine)
        with torch.no_grad():
            for name in ("running_mean", "running_var") + (("weight", "bias") if first.affine else ()):
                getattr(bn, name).copy_(torch.cat([getattr(m, name) for m in modules]))
        return bn
    if isinstance(first, nn.Flatten):
        return GroupFlatten(n)
    if isinstance(first, nn.Linear):
        return StackedLinear(modules)
    if isinstance(first, CHANNELWISE):
        return first
    raise TypeError(f"cannot stack {type(first).__name__}; add a rule to benchmark/stacked.py")


class StackedChildren(nn.Module):
    """Children of a space trained side by side; forward returns logits (B, n, classes).

    Each child is first built standalone under its own seed, so its initial weights do not depend on which other
    children share the stack (or on sharding). Units are grouped per depth by the unit they use.
    """

    def __init__(self, space: SearchSpace, children: Sequence[int], shape: DataShape,
                 init_seeds: Sequence[int]) -> None:
        super().__init__()
        self.space, self.children_ids, self.shape = space, list(children), shape
        standalone = []
        for seed, child in zip(init_seeds, self.children_ids):
            torch.manual_seed(seed)
            standalone.append(space.build_child(child, shape))
        paths = [space.path(space.arch(c)) for c in self.children_ids]
        depth = len(paths[0])
        if any(len(p) != depth for p in paths):
            raise ValueError("stacking needs children whose paths have the same length")
        # groups[d]: (unit, positions of the children using it) at depth d
        self.groups: list[list[tuple[str, list[int]]]] = []
        self.stages = nn.ModuleList()
        for d in range(depth):
            units: dict[str, list[int]] = {}
            for i, p in enumerate(paths):
                units.setdefault(p[d], []).append(i)
            self.groups.append(list(units.items()))
            self.stages.append(nn.ModuleDict({
                unit.replace(".", "/"): stack_modules([standalone[i].units[d] for i in idx])
                for unit, idx in units.items()}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, batch = len(self.children_ids), x.shape[0]
        h = x.unsqueeze(1).expand(batch, n, *x.shape[1:])  # (B, n, C, L)
        for groups, stage in zip(self.groups, self.stages):
            outs = []
            for unit, idx in groups:
                part = h if len(idx) == n else h[:, idx]
                module = stage[unit.replace(".", "/")]
                y = module(part.reshape(batch, -1, *part.shape[3:]))
                if not any(isinstance(m, GroupFlatten) for m in module.modules()):
                    y = y.reshape(batch, len(idx), -1, *y.shape[2:])  # back to (B, k, C, L)
                outs.append((idx, y))
            if len(outs) == 1:
                h = outs[0][1]
                continue
            h = outs[0][1].new_empty(batch, n, *outs[0][1].shape[2:])
            for idx, y in outs:
                h[:, idx] = y
        return h


class ChildList(nn.Module):
    """The fallback for children that cannot be stacked (cell DAGs, attention): the same interface and the same
    initial weights as StackedChildren, computed one child after another."""

    def __init__(self, space: SearchSpace, children: Sequence[int], shape: DataShape,
                 init_seeds: Sequence[int]) -> None:
        super().__init__()
        self.children_ids = list(children)
        nets = []
        for seed, child in zip(init_seeds, self.children_ids):
            torch.manual_seed(seed)
            nets.append(space.build_child(child, shape))
        self.nets = nn.ModuleList(nets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(x) for net in self.nets], dim=1)


def side_by_side(space: SearchSpace, children: Sequence[int], shape: DataShape,
                 init_seeds: Sequence[int]) -> StackedChildren | ChildList:
    """Children trained together: stacked into grouped layers where the space allows it, else a ChildList."""
    if space.is_chain:
        try:
            return StackedChildren(space, children, shape, init_seeds)
        except TypeError:  # a module without a stacking rule
            pass
    return ChildList(space, children, shape, init_seeds)


class StackedChildrenModule(HandStepped):
    """Trains a StackedChildren: the loss is the sum over children of each child's mean cross-entropy, so each child
    receives exactly the gradient it would receive alone."""

    def __init__(self, stack: StackedChildren | ChildList, optimizer: Callable[..., torch.optim.Optimizer],
                 scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        super().__init__(optimizer, scheduler)
        self.stack = stack
        self.transform = transform  # the data's training augmentation (the loaders come without their datamodule)

    def _inputs(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batch
        return (self.transform(x) if self.transform is not None else x), y

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = self._inputs(batch)
        logits = self.stack(x)  # (B, n, classes)
        n = logits.shape[1]
        return F.cross_entropy(logits.flatten(0, 1), y.repeat_interleave(n), reduction="sum") / len(y)

    def losses(self, batch: tuple[torch.Tensor, torch.Tensor]) -> Iterator[torch.Tensor]:
        """A ChildList runs its children one after another anyway: one part per child keeps one child's activations
        in memory instead of the whole chunk's (a Deeper Insights child on CIFAR-10 saves gigabytes)."""
        if not isinstance(self.stack, ChildList):
            yield self.loss(batch)
            return
        x, y = self._inputs(batch)
        for net in self.stack.nets:
            yield F.cross_entropy(net(x), y)



@torch.no_grad()
def stack_accuracy(stack: StackedChildren | ChildList,
                   batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> list[float]:
    """Accuracy of every stacked child (eval mode, its own BatchNorm statistics)."""
    was_training = stack.training
    stack.eval()
    device = next(stack.parameters()).device
    correct, total = torch.zeros(len(stack.children_ids), device=device), 0
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        correct += (stack(x).argmax(dim=-1) == y[:, None]).sum(dim=0)
        total += len(y)
    stack.train(was_training)
    return (correct / total).tolist()
