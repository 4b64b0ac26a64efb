"""Callbacks that tests add to real runs from the command line (`+callbacks.x._target_=tests.helpers.X`)."""
import json
import os
import signal
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint


class KillAt(pl.Callback):
    """SIGKILL this process at global step `step`: a preempted job, mid-epoch, with no chance to clean up."""

    signal = signal.SIGKILL

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signal)


class PoisonAt(pl.Callback):
    """Put a NaN into the head's weights at global step `step`: the loss turns NaN, as in a diverging run."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            with torch.no_grad():
                for p in pl_module.supernet.head.parameters():
                    p.fill_(float("nan"))


class RecordSteps(pl.Callback):
    """Per rank: the children trained at every step, and every parameter or buffer that moved although no child of
    that step uses it; written to `steps_rank<r>.json` in `output_dir` at the end."""

    def __init__(self, output_dir: str) -> None:
        self.output_dir, self.children, self.stray = output_dir, [], []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.before = {k: v.detach().clone() for k, v in pl_module.supernet.state_dict().items()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        net = pl_module.supernet
        used = {f"{unit}.{copy}." for child in pl_module.last_children for unit, copy in net.routes[child]}
        after = net.state_dict()
        self.children.append(list(pl_module.last_children))
        self.stray += [k for k, v in self.before.items()
                       if not torch.equal(v, after[k]) and not any(k.startswith(p) for p in used)]

    def on_train_end(self, trainer, pl_module):
        Path(self.output_dir, f"steps_rank{trainer.global_rank}.json").write_text(
            json.dumps({"children": self.children, "stray": self.stray, "world": trainer.world_size}))


class KillAtEpochEnd(pl.Callback):
    """SIGKILL after epoch `epoch`'s ranking is written, before its checkpoint: a kill between two files of an epoch."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)


class KillAfterCheckpoint(KillAtEpochEnd, Checkpoint):
    """SIGKILL right after epoch `epoch`'s checkpoint is saved, before its metrics reach metrics.csv (Lightning runs
    checkpoint callbacks last, in their given order, so this one runs after the run's own)."""


class TermAt(KillAt):
    """Send SIGTERM to this process at global step `step`, as a cluster pre-empting a job does."""

    signal = signal.SIGTERM


class RecordThreads(pl.Callback):
    """Per rank: torch's intra-op threads and OMP_NUM_THREADS where training runs (a spawned DDP worker, too)."""

    def __init__(self, output_dir: str) -> None:
        self.output_dir = output_dir

    def on_train_start(self, trainer, pl_module):
        Path(self.output_dir, f"threads_rank{trainer.global_rank}.json").write_text(
            json.dumps({"torch": torch.get_num_threads(), "env": os.environ.get("OMP_NUM_THREADS")}))
