"""SupernetModule: the thin LightningModule around a supernet. Each step samples, forwards, steps; no file I/O."""
from __future__ import annotations

import random
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.alignment import Alignment
from benchmark.errors import require
from benchmark.hand_stepped import HandStepped
from benchmark.samplers import Sampler
from benchmark.supernet import Supernet


#: Under DDP: 'broadcast' (every rank trains rank 0's children at every step) or 'per_rank' (each rank samples its
#: own, from the sampler's seed plus the rank; the gradients of different children are then averaged).
ARCH_SYNC = ("broadcast", "per_rank")


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""


def rng_states() -> dict[str, Any]:
    """Global RNG states, in a form `torch.load(weights_only=True)` accepts (the data order draws from them)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
            "python": random.getstate()}


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


class SupernetModule(HandStepped):
    """Trains a supernet one sampled child (or a few) per optimizer step.

    Unsampled units get no gradient and keep `grad is None` (gradients are zeroed with set_to_none), so SGD's
    momentum and weight decay skip them: a step on a child moves only the weights that child uses.
    """

    def __init__(
        self,
        supernet: Supernet,
        sampler: Sampler,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        align: Alignment | dict[str, Any] | None = None,
        arch_sync: str = "broadcast",
    ) -> None:
        require(arch_sync in ARCH_SYNC, "module.arch_sync", arch_sync, f"one of {list(ARCH_SYNC)}")
        super().__init__(optimizer, scheduler)
        self.arch_sync = arch_sync
        self.supernet, self.sampler = supernet, sampler
        self.align = align if isinstance(align, Alignment) else Alignment(**(align or {}))
        self.anchor: int | None = None
        self.best_child: int | None = None  # the latest ranking's best (RankingSnapshot sets it): MAGIC-A's anchor
        self.last_children: list[int] = []
        self._sums: dict[str, list[Any]] = {}  # metric -> [sum over the epoch's examples, examples]

    @property
    def space(self):
        return self.supernet.space

    def losses(self, batch: tuple[torch.Tensor, torch.Tensor]) -> Iterator[torch.Tensor]:
        """One loss per sampled child (several under the fair sampler or a per-group budget), each back-propagated
        before the next child's forward pass, so only one child's activations are alive at a time. Under DDP, which
        reduces gradients once per forward of the wrapped module, their sum in one part."""
        x, y = batch
        children = self.sampler.sample()
        if self.trainer.world_size > 1 and self.arch_sync == "broadcast":
            children = self.trainer.strategy.broadcast(children, src=0)
        self.last_children = children
        aligning = self.align.weight > 0 and self.anchor is not None
        anchor = self._anchor_features(x) if aligning else None
        total: torch.Tensor | None = None
        for child in children:
            features: list[torch.Tensor] | None = [] if aligning else None
            logits = self.supernet(x, child, features)
            loss = F.cross_entropy(logits, y)
            if aligning:
                align_loss = self.align.loss(features, anchor)
                loss = loss + self.align.weight * align_loss
                self._accumulate("train/align", align_loss.detach() * len(y), len(y))
            if not torch.isfinite(loss):
                raise Diverged(f"training loss is {float(loss)} at epoch {self.current_epoch}, step "
                               f"{self.global_step} (child {child}); lower module.optimizer.lr or check the data")
            # Means over the step's children and the epoch's examples.
            self._accumulate("train/loss", loss.detach() * len(y), len(y))
            self._accumulate("train/acc", (logits.argmax(dim=1) == y).sum(), len(y))
            if self.trainer.world_size == 1:
                yield loss
            else:
                total = loss if total is None else total + loss
        if total is not None:
            yield total

    def _accumulate(self, key: str, total: torch.Tensor, count: int) -> None:
        """Sum a metric over the epoch; logged once in on_train_epoch_end. (Lightning's per-step self.log with
        on_epoch=True costs more than a whole step of the default supernet; the logged means are the same.)"""
        if key in self._sums:
            self._sums[key][0].add_(total)
            self._sums[key][1] += count
        else:
            self._sums[key] = [total.clone(), count]

    def on_train_epoch_end(self) -> None:
        for key, (total, count) in self._sums.items():
            self.log(key, total / count, prog_bar=key == "train/loss", sync_dist=True)  # mean over DDP ranks
        self._sums = {}
        super().on_train_epoch_end()

    @torch.no_grad()
    def _anchor_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The anchor's unit outputs (train mode, like the child's), leaving its BatchNorm statistics untouched so that
        a step still changes nothing the sampled child does not use."""
        buffers = [(b, b.clone()) for m in self.supernet.child_modules(self.anchor) for b in m.buffers()]
        features: list[torch.Tensor] = []
        self.supernet(x, self.anchor, features)
        for b, saved in buffers:
            b.copy_(saved)
        return features

    def _per_rank(self) -> bool:
        """Ranks sample their own children (outside a Trainer, e.g. when a test saves a checkpoint: no)."""
        return self._trainer is not None and self.trainer.world_size > 1 and self.arch_sync == "per_rank"

    def setup(self, stage: str) -> None:
        if self._per_rank():
            self.sampler.for_rank(self.global_rank)

    def on_train_epoch_start(self) -> None:
        refresh = self.align.weight > 0 and self.current_epoch % self.align.refresh_epochs == 0
        if refresh and self.best_child is not None:
            self.anchor = self.best_child

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["sampler"] = self.sampler.state_dict()
        if self._per_rank():  # every rank builds the checkpoint (rank 0 writes it): keep each rank's own sequence
            states: list[Any] = [None] * self.trainer.world_size
            torch.distributed.all_gather_object(states, checkpoint["sampler"])
            checkpoint["sampler_per_rank"] = states
        checkpoint["anchor"], checkpoint["best_child"] = self.anchor, self.best_child
        checkpoint["rng_states"] = rng_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get("sampler_per_rank")
        if self._per_rank():
            require(states is not None and len(states) == self.trainer.world_size, "ckpt_path",
                    f"a checkpoint with {'no' if states is None else len(states)} per-rank sampler states",
                    f"one written by a module.arch_sync=per_rank run on {self.trainer.world_size} devices")
            self.sampler.load_state_dict(states[self.global_rank])
        else:
            self.sampler.load_state_dict(checkpoint["sampler"])
        self.anchor, self.best_child = checkpoint.get("anchor"), checkpoint.get("best_child")
        set_rng_states(checkpoint["rng_states"])
