"""MAGIC-A's anchor comes from the ranking explicitly (RankingSnapshot -> module.best_child) and travels in checkpoints,
so a resumed run aligns to the same child as an uninterrupted one."""
import csv
from pathlib import Path

import torch

from benchmark.spaces import ChainSpace
from benchmark.tasks import search
from benchmark.tasks.common import build_study

SPACE = ChainSpace(layers=3, ops=["conv3", "conv5", "dilconv3", "maxpool3"])


def test_the_anchor_is_the_previous_epochs_best_child_and_is_checkpointed(make_cfg):
    cfg = make_cfg("module.align.weight=1.0", "trainer.max_epochs=3", "+trainer.limit_train_batches=3",
                   "callbacks.ranking.calib_batches=1", "logger=csv", "threads=1")
    search.run(cfg)
    out = Path(cfg.paths.output_dir)
    with open(out / "rankings.csv", newline="") as f:
        best = {int(r["epoch"]): SPACE.child(r["child"]).index for r in csv.DictReader(f) if r["rank"] == "1"}
    last = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    previous = torch.load(out / "checkpoints" / "previous.ckpt", weights_only=True)
    assert last["best_child"] == best[2] and previous["best_child"] == best[1]
    assert last["anchor"] == best[1] and previous["anchor"] == best[0]  # set at the start of epochs 2 and 1
    _, module = build_study(cfg)  # a resumed run's module, before it loads the checkpoint
    assert module.best_child is None and module.anchor is None
    module.on_load_checkpoint(previous)
    assert module.best_child == best[1] and module.anchor == best[0]
