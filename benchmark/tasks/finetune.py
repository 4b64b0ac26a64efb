"""task=finetune: fine-tune every child from a supernet checkpoint's shared weights and rank again (Deeper Insights).

The paper fine-tunes each child alone from the supernet's weights for a few mini-batches and finds its ranking moving
towards the ground truth (GT-Tau 0.6-0.8 after 5-10 batches). As the authors' code does: every child starts from its own
copy of the shared weights it uses, with a fresh SGD (momentum, weight decay) at a constant learning rate - by default
the supernet schedule's rate at the checkpoint - trains in train mode (BatchNorm statistics update) on the same batch
order for every child, and is measured after `finetune.steps` = [0, 5, 10, 50] mini-batches in eval mode on the
ranking split (`callbacks.ranking.split`). Step 0 is the supernet's own ranking with its shared running statistics.

Output: `finetune.csv` (steps, child, val_acc, val_loss, rank, and with a ground truth gt_acc, gt_rank) and
`finetune_summary.csv` (GT-Tau, Spearman, T1R, T3R, regret per step count). Each finished child is recorded in
`finetune_progress.csv` at once, so a killed run continues with the children it had not finished.
"""
from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from benchmark import ground_truth, metrics
from benchmark.callbacks.ranking import rank_children
from benchmark.records import GT_HEADER
from benchmark.errors import is_int, require
from benchmark.evaluation import ChildScore
from benchmark.io import remove_stale_temps, write_csv, write_json
from benchmark.resume import check_matches, load
from benchmark.supernet import Supernet
from benchmark.tasks.common import build_study, task_wrapper

log = logging.getLogger(__name__)

PROGRESS, TABLE, SUMMARY = "finetune_progress.csv", "finetune.csv", "finetune_summary.csv"
#: Settings a fine-tuning run may choose for itself: how children are ranked and what they are judged against.
RANKED_ANEW = ("callbacks.ranking.", "ground_truth.")
SETTINGS = "finetune_settings.json"  # what the progress was made with: a rerun continues it only with the same
Batches = list[tuple[torch.Tensor, torch.Tensor]]
PROGRESS_HEADER = ("steps", "child", "val_acc", "val_loss")
#: The authors fine-tune for 192 mini-batches; the batches are held in memory (on CIFAR-10, 3 MB each at batch 256).
MAX_STEPS = 1_000


def standalone(supernet: Supernet, child: int) -> torch.nn.Module:
    """The child as its own network, holding a copy of every shared weight and buffer it uses."""
    net = supernet.space.build_child(child, supernet.shape)
    for module, key in zip(net.units, supernet.routes[child]):
        module.load_state_dict(supernet.unit(*key).state_dict())
    return net


@torch.no_grad()
def measure(net: torch.nn.Module, batches: Batches) -> tuple[float, float]:
    """Accuracy and mean cross-entropy in eval mode (the network's own running BatchNorm statistics)."""
    net.eval()
    correct, loss, total = 0, 0.0, 0
    for x, y in batches:
        out = net(x)
        correct += int((out.argmax(dim=1) == y).sum())
        loss += float(F.cross_entropy(out, y, reduction="sum"))
        total += len(y)
    return correct / total, loss / total


def finetune_child(net: torch.nn.Module, optimizer: torch.optim.Optimizer, train: Batches, data: Batches,
                   steps: list[int]) -> list[tuple[int, float, float]]:
    """(steps, accuracy, loss) after each count in `steps` (sorted) of training mini-batches from `train`."""
    results, done = [], 0
    for target in steps:
        net.train()
        while done < target:
            x, y = train[done % len(train)]
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(net(x), y).backward()
            optimizer.step()
            done += 1
        results.append((target, *measure(net, data)))
    return results


def training_batches(datamodule: Any, seed: int, n: int, device: torch.device) -> Batches:
    """`n` augmented training batches, drawn from `seed` alone: every child fine-tunes on the same ones."""
    order, augmentation = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    batches: Batches = []
    while len(batches) < n:
        for x, y in datamodule.train_dataloader(generator=order):
            if len(batches) == n:
                break
            batches.append((datamodule.train_transform(x.to(device), augmentation), y.to(device)))
    return batches


def _continue_only_with(out: Path, settings: dict[str, Any]) -> None:
    """Refuse to continue progress that was made with other settings (another checkpoint, other step counts...):
    its children would be ranked on other terms than the rest."""
    recorded = out / SETTINGS
    if (out / PROGRESS).is_file() and recorded.is_file():
        earlier = json.loads(recorded.read_text())
        differ = [k for k in settings if earlier.get(k) != json.loads(json.dumps(settings[k]))]
        require(not differ, "hydra.run.dir", str(out), "a folder whose fine-tuning progress was made with these "
                f"settings; it differs in {', '.join(differ)} (pick another folder)")
    write_json(recorded, settings)


def _read_progress(path: Path) -> list[tuple[int, str, float, float]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [(int(r["steps"]), r["child"], float(r["val_acc"]), float(r["val_loss"])) for r in csv.DictReader(f)]


def checkpoint_lr(checkpoint: dict[str, Any]) -> float:
    """The learning rate the supernet's schedule had reached when the checkpoint was written."""
    schedulers = checkpoint.get("lr_schedulers") or []
    if schedulers and schedulers[0].get("_last_lr"):
        return float(schedulers[0]["_last_lr"][0])
    return float(checkpoint["optimizer_states"][0]["param_groups"][0]["lr"])


@task_wrapper
def run(cfg: DictConfig) -> dict[str, float]:
    spec = cfg.finetune
    steps = sorted(set(spec.steps)) if OmegaConf.is_list(spec.steps) else []
    require(bool(steps) and all(is_int(s) and 0 <= s <= MAX_STEPS for s in steps), "finetune.steps", spec.steps,
            f"a list of mini-batch counts from 0 to {MAX_STEPS:,} to rank after, e.g. [0,5,10,50]")
    require(bool(cfg.get("ckpt_path")), "ckpt_path", cfg.get("ckpt_path"),
            "the supernet checkpoint to fine-tune from, e.g. outputs/search/<run>/checkpoints/last.ckpt")
    path = Path(cfg.ckpt_path)
    require(path.is_file(), "ckpt_path", cfg.ckpt_path, "an existing Lightning checkpoint file")
    out = Path(cfg.paths.output_dir)
    remove_stale_temps(out)
    datamodule, module = build_study(cfg)
    checkpoint = load(path)
    check_matches(checkpoint, path, module, cfg, ignore=RANKED_ANEW)
    module.load_state_dict(checkpoint["state_dict"])
    datamodule.setup("fit")
    device = torch.device("cuda" if cfg.trainer.get("accelerator") in ("gpu", "cuda") else "cpu")
    split = cfg.callbacks.ranking.split
    data = [(x.to(device), y.to(device)) for x, y in getattr(datamodule, f"{split}_dataloader")()]
    train = training_batches(datamodule, cfg.seed, max(steps), device)
    lr = spec.optimizer.lr if spec.optimizer.lr is not None else checkpoint_lr(checkpoint)
    decay = spec.optimizer.weight_decay if spec.optimizer.weight_decay is not None \
        else cfg.module.optimizer.weight_decay
    space, supernet = module.space, module.supernet
    settings = {"ckpt_path": str(path.resolve()), "steps": steps, "lr": lr, "weight_decay": decay, "seed": cfg.seed,
                "split": split,
                "optimizer": OmegaConf.to_container(spec.optimizer, resolve=True)}
    _continue_only_with(out, settings)
    done = _read_progress(out / PROGRESS)
    finished = {c for _, c, _, _ in done}
    todo = [c for c in space.ranked_children() if space.name(c) not in finished]
    log.info("fine-tuning %d children from %s (epoch %d) for %s mini-batches at lr %.4g, measured on %s; %d already "
             "done", len(todo), path, checkpoint["epoch"], steps, lr, split, len(finished))
    for i, child in enumerate(todo, start=1):
        net = standalone(supernet, child).to(device)
        optimizer = instantiate(spec.optimizer, params=net.parameters(), lr=lr, weight_decay=decay)
        measured = finetune_child(net, optimizer, train, data, steps)
        done += [(s, space.name(child), acc, loss) for s, acc, loss in measured]
        write_csv(out / PROGRESS, PROGRESS_HEADER, done)
        if i % 16 == 0 or i == len(todo):
            log.info("fine-tuned %d of %d children", len(finished) + i, len(space.ranked_children()))
    return _finish(cfg, out, done, steps, space)


def _finish(cfg: DictConfig, out: Path, done: list[tuple[int, str, float, float]], steps: list[int],
            space: Any) -> dict[str, float]:
    """Rank the children at every step count, judge them against the ground truth, write the tables."""
    truth_table = ground_truth.find(cfg, space)
    truth = truth_table.scores() if truth_table is not None else {}
    gt_ranks = metrics.true_ranks(truth) if truth else {}
    rows, summary = [], []
    for s in steps:
        scores = [ChildScore(space.child(c).index, acc, loss) for n, c, acc, loss in done if n == s]
        ranked = rank_children(scores)
        for rank, score in enumerate(ranked, start=1):
            name = space.name(score.child)
            gt = (truth.get(name, ""), gt_ranks.get(name, "")) if truth else ()
            rows.append((s, name, score.val_acc, score.val_loss, rank, *gt))
        if truth:
            quality = metrics.ranking_quality({space.name(r.child): r.val_acc for r in ranked}, truth)
            summary.append({"steps": s, **quality})
            log.info("after %d fine-tuning mini-batches: GT-Tau %.3f, Spearman %.3f, T1R %d", s, quality["gt_tau"],
                     quality["spearman"], quality["t1r"])
    write_csv(out / TABLE, ("steps", "child", "val_acc", "val_loss", "rank") + (GT_HEADER if truth else ()), rows)
    if summary:
        write_csv(out / SUMMARY, tuple(summary[0]), [list(r.values()) for r in summary])
    else:
        log.info("no ground truth for this space, data and recipe: %s has the rankings, not judged", out / TABLE)
    return {f"gt_tau_{r['steps']}": r["gt_tau"] for r in summary}
