"""Resuming a run: which checkpoint to continue from, and whether it belongs to this config.

A run folder holds `checkpoints/last.ckpt` and `previous.ckpt` (`benchmark/callbacks/checkpoint.py`) and, from its
last start, `checkpoints/config.json`: the settings that decide what the run computes. `resume=true` continues from
the newest checkpoint that every per-epoch file of the folder (`rankings.csv`, `csv/metrics.csv`) has caught up with,
so a kill between two files of one epoch costs that epoch, never a row. A checkpoint that cannot be read, was made by
another supernet or under other settings is refused with a message naming what differs.
"""
from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any, Sequence

import torch
from omegaconf import DictConfig, OmegaConf

from benchmark import records
from benchmark.callbacks.checkpoint import LAST, PREVIOUS
from benchmark.errors import ConfigError, require
from benchmark.io import write_json

log = logging.getLogger(__name__)

#: Config keys and sections that decide what a run computes and records; a checkpoint continues only a run with the
#: same values (the ranking protocol and the ground truth shape every row of rankings.csv; devices shard the data).
RESUME_SECTIONS = ("seed", "data", "search_space", "sharing", "sampler", "module", "callbacks.ranking",
                   "ground_truth.path", "ground_truth.metric", "trainer.devices", "trainer.num_nodes",
                   "trainer.limit_train_batches")
#: Keys inside them that do not: where data and files live, the schedule's length (the checkpoint's scheduler has its
#: own), and ranking options that change neither the epoch rankings nor their numbers.
NOT_COMPARED = ("data.cache_dir", "data.root", "module.scheduler.T_max", "callbacks.ranking.output_dir",
                "callbacks.ranking.block", "callbacks.ranking.top_k", "callbacks.ranking.dense_steps")
#: What every checkpoint of a search run holds (Lightning's and `SupernetModule.on_save_checkpoint`'s entries).
REQUIRED = ("state_dict", "loops", "epoch", "sampler", "rng_states")
CONFIG = "config.json"


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        return {k: v for key, value in node.items() for k, v in _flatten(value, f"{prefix}{key}.").items()}
    return {prefix[:-1]: node}


def run_settings(cfg: DictConfig) -> dict[str, Any]:
    """The resolved values of RESUME_SECTIONS, flattened to dotted keys."""
    values = {key: OmegaConf.select(cfg, key) for key in RESUME_SECTIONS}
    body = {key: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v for key, v in values.items()}
    return {k: v for k, v in _flatten(body).items() if k not in NOT_COMPARED}


def record_settings(folder: Path, cfg: DictConfig) -> None:
    """Write `config.json` beside the checkpoints (a resumed run has been checked to have the same settings; a run
    that starts from scratch replaces those of an earlier start that left no checkpoint)."""
    write_json(folder / CONFIG, run_settings(cfg))


def discard_checkpoints(folder: Path) -> None:
    """A run that starts from scratch removes an earlier run's checkpoints from its folder: the settings recorded
    beside them are about to be replaced, and a later resume=true must never continue the earlier run under them."""
    for name in (LAST, PREVIOUS):
        if (folder / name).is_file():
            log.info("starting from scratch: removing %s of an earlier run in this folder", folder / name)
            (folder / name).unlink()


def load(path: Path, key: str = "ckpt_path") -> dict[str, Any]:
    """A checkpoint's contents, or a ConfigError saying why it is not one of ours."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, garbage, not a torch file, unpicklable content
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
        raise ConfigError(key, str(path), f"a readable Lightning checkpoint of this benchmark "
                                          f"({type(e).__name__}{': ' + reason if reason else ''})") from e
    missing = [k for k in REQUIRED if not isinstance(checkpoint, dict) or k not in checkpoint]
    require(not missing, key, str(path), f"a checkpoint of a search run (this one lacks {', '.join(missing)})")
    return checkpoint


def check_matches(checkpoint: dict[str, Any], path: Path, module: torch.nn.Module, cfg: DictConfig,
                  key: str = "ckpt_path", ignore: tuple[str, ...] = ()) -> None:
    """Refuse a checkpoint of another supernet (tensor names or shapes) or of other settings (its folder's
    `config.json`, when there is one, except keys starting with `ignore`), naming the first differences; `key` is
    what the user set (ckpt_path=<file>, or resume=true)."""
    value = str(path) if key == "ckpt_path" else True
    where = "" if key == "ckpt_path" else f" ({path})"
    ours = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in checkpoint["state_dict"].items()}
    differ = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
    if differ:
        shown = "; ".join(f"{k}: {theirs.get(k, 'absent')} in the checkpoint, {ours.get(k, 'absent')} here"
                          for k in differ[:3])
        raise ConfigError(key, value, f"a checkpoint of this supernet{where} ({len(differ)} tensors differ: {shown})")
    recorded = path.parent / CONFIG
    if not recorded.is_file():
        return
    saved, now = json.loads(recorded.read_text()), run_settings(cfg)
    differ = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k) and not k.startswith(ignore))
    if differ:
        shown = "; ".join(f"{k}={saved.get(k, 'absent')!r} there, {now.get(k, 'absent')!r} here" for k in differ[:4])
        raise ConfigError(key, value, f"a checkpoint made with these settings{where}; {len(differ)} differ ({shown}). "
                                      f"Resume with the run's own overrides, or start a new run")


def _epochs_in(path: Path, marker: str) -> set[int]:
    """Epochs with a row that has `marker` set: step-level rows (the interference probe's) carry the epoch too, but
    only the epoch-end row means the epoch was recorded."""
    with open(path, newline="") as f:
        return {int(float(row["epoch"])) for row in csv.DictReader(f) if row.get("epoch") and row.get(marker)}


def caught_up(out: Path, epoch: int, ranked: Sequence[int] | None = None) -> bool:
    """Every per-epoch file of the run folder (that exists) holds `epoch`'s epoch-end rows; rankings.csv, when only
    the epochs `ranked` are ranked (callbacks.ranking.every_n_epochs), the newest of them up to `epoch`."""
    needed = {out / "rankings.csv": (epoch if ranked is None else max((e for e in ranked if e <= epoch), default=None),
                                     "rank"),
              out / "csv" / "metrics.csv": (epoch, "train/loss")}
    return all(e is None or e in _epochs_in(f, marker) for f, (e, marker) in needed.items() if f.is_file())


def pick(out: Path, ranked: Sequence[int] | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable checkpoint in `out/checkpoints` whose epoch every per-epoch file has caught up with
    (`ranked`: the epochs rankings.csv holds rows for, all by default)."""
    for name in (LAST, PREVIOUS):
        path = out / "checkpoints" / name
        if not path.is_file():
            continue
        try:
            checkpoint = load(path, "resume")
        except ConfigError as e:
            log.warning("skipping %s: %s", path, e)
            continue
        if caught_up(out, int(checkpoint["epoch"]), ranked):
            return path, checkpoint
        log.info("skipping %s (epoch %d): the run's files stop before it (killed while writing that epoch)",
                 path, checkpoint["epoch"])
    return None


def resume_checkpoint(cfg: DictConfig, out: Path, module: torch.nn.Module) -> tuple[Path, int] | None:
    """The checkpoint to continue from and the last epoch it completed: `ckpt_path` if given, with `resume=true` the
    newest usable one in this run folder; None to start from scratch. Checked against this config first."""
    if cfg.get("ckpt_path"):
        path = Path(cfg.ckpt_path)
        require(path.is_file(), "ckpt_path", cfg.ckpt_path, "an existing Lightning checkpoint file")
        checkpoint, key = load(path), "ckpt_path"
    elif cfg.get("resume"):
        every_n = OmegaConf.select(cfg, "callbacks.ranking.every_n_epochs", default=1)
        found = pick(out, records.ranked_epochs(int(cfg.trainer.max_epochs), every_n))
        if found is None:
            log.info("resume=true but %s holds no usable checkpoint yet: starting from scratch", out / "checkpoints")
            return None
        (path, checkpoint), key = found, "resume"
    else:
        return None
    check_matches(checkpoint, path, module, cfg, key)
    log.info("resuming from %s (epoch %d completed)", path, checkpoint["epoch"])
    return path, int(checkpoint["epoch"])
