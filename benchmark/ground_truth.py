"""Ground truth: every child trained alone, cached by provenance; or a published table imported from CSV.

A table has one row per (child, seed): `child, seed, val_acc, test_acc, params, epochs`, and a sidecar JSON with its
provenance (space, data and training recipe, and their hash). The truth a supernet is judged against is the mean over
seeds of `ground_truth.metric` (test accuracy by default: data neither the supernet nor the ranking ever saw).

Tables are cached under `<paths.cache_dir>/ground_truth/<hash>/`. Each shard writes its own part file after every
finished chunk (atomically), so a killed run resumes without retraining finished (child, seed) pairs, and shards
running in parallel never write the same file; whichever shard completes the table merges the parts.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection

import numpy as np
from omegaconf import DictConfig, OmegaConf

from benchmark import metrics
from benchmark.errors import ConfigError
from benchmark.io import write_csv, write_json
from benchmark.spaces import SearchSpace

log = logging.getLogger(__name__)

HEADER = ("child", "seed", "val_acc", "test_acc", "params", "epochs")
ACCURACY_COLUMNS = ("test_acc", "val_acc", "accuracy")


@dataclass
class GroundTruth:
    """Rows of (child name, seed, accuracies...) for one space, with where they came from."""

    rows: list[dict[str, Any]]
    metric: str = "test_acc"
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def seeds(self) -> list[int]:
        return sorted({int(r["seed"]) for r in self.rows})

    @property
    def children(self) -> list[str]:
        return sorted({r["child"] for r in self.rows})

    def scores(self) -> dict[str, float]:
        """The truth: mean of `metric` over seeds, per child."""
        by_child: dict[str, list[float]] = {}
        for r in self.rows:
            by_child.setdefault(r["child"], []).append(float(r[self.metric]))
        return {c: float(np.mean(v)) for c, v in by_child.items()}

    def per_seed(self) -> list[dict[str, float]]:
        return [{r["child"]: float(r[self.metric]) for r in self.rows if int(r["seed"]) == s} for s in self.seeds]

    def stability(self, children: Collection[str] | None = None) -> dict[str, float]:
        """The reference a supernet is judged against: S-Tau across seeds, and each seed's GT-Tau against the mean of
        the *other* seeds (leave-one-out, so a seed is never compared with itself), with T1R/T3R likewise.

        Over the children every seed holds (and that are in `children`, e.g. the sample a run ranks); a child missing
        from a seed is left out with a warning rather than compared against a mean of nothing."""
        runs = self.per_seed()
        out: dict[str, float] = {"seeds": float(len(runs))}
        if len(runs) < 2:
            return out
        common = set.intersection(*(set(r) for r in runs))
        if len(common) < len(set().union(*runs)):
            log.warning("ground truth: %d children lack some seed; the seed-to-seed reference leaves them out",
                        len(set().union(*runs)) - len(common))
        if children is not None:
            common &= set(children)
        runs = [{c: v for c, v in r.items() if c in common} for r in runs]
        out["children"] = float(len(common))
        if len(common) < 2:
            return out
        st = metrics.s_tau(runs)
        out.update({"s_tau": st["mean"], "s_tau_min": st["min"], "s_tau_max": st["max"]})
        taus, t1, t3 = [], [], []
        for i, run in enumerate(runs):
            others = [r for j, r in enumerate(runs) if j != i]
            rest = {c: float(np.mean([r[c] for r in others])) for c in run}
            taus.append(metrics.kendall_tau(run, rest))
            t1.append(metrics.top_n_rank(run, rest, 1))
            t3.append(metrics.top_n_rank(run, rest, 3))
        out.update({"gt_tau": float(np.mean(taus)), "gt_tau_std": float(np.std(taus)),
                    "t1r": float(np.mean(t1)), "t3r": float(np.mean(t3))})
        return out

    def save(self, path: str | Path) -> None:
        path = Path(path)
        # Our own columns, plus an imported table's metric (e.g. `accuracy`); columns no row has are left out, so
        # the copy reads back as it was read.
        columns = [k for k in dict.fromkeys((*HEADER, self.metric))
                   if k in ("child", "seed") or any(r.get(k) not in (None, "") for r in self.rows)]
        write_csv(path, columns, [[r.get(k, "") for k in columns] for r in self.rows])
        write_json(path.with_suffix(".json"), {"metric": self.metric, **self.provenance})


#: Trainer arguments that change how ground truth trains, with the values that leave it as by default. Recorded only
#: when set otherwise, so that tables trained the default way keep their hash.
TRAINING_ARGS: dict[str, tuple[Any, ...]] = {
    "precision": (None, "32-true", "32", 32), "gradient_clip_val": (None, 0, 0.0), "gradient_clip_algorithm": (None,),
    "accumulate_grad_batches": (1,), "limit_train_batches": (None, 1.0), "max_steps": (None, -1),
    "overfit_batches": (0, 0.0),
}


def provenance(cfg: DictConfig) -> dict[str, Any]:
    """What determines a ground-truth table: the space, the data, the standalone recipe and any trainer argument that
    changes training (not the chunk size, which only changes speed, nor where files go)."""
    data = {k: v for k, v in OmegaConf.to_container(cfg.data, resolve=True).items()
            if k not in ("cache_dir", "root", "eval_batch_size")}
    recipe = {k: v for k, v in OmegaConf.to_container(cfg.ground_truth, resolve=True).items()
              if k not in ("path", "metric", "chunk")}
    body = {"search_space": OmegaConf.to_container(cfg.search_space, resolve=True), "data": data, "recipe": recipe}
    given = cfg.get("trainer") or {}
    trainer = {k: given[k] for k in TRAINING_ARGS if k in given and given[k] not in TRAINING_ARGS[k]}
    if trainer:
        body["trainer"] = trainer
    digest = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return {**body, "hash": digest}


def cache_folder(cfg: DictConfig) -> Path:
    return Path(cfg.paths.cache_dir) / "ground_truth" / provenance(cfg)["hash"]


def _float(value: str, where: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a number") from None
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"{where}: accuracy is {value}; a ground-truth table needs finite accuracies")
    return x


def read_table(path: str | Path, space: SearchSpace, metric: str = "test_acc",
               key: str = "ground_truth.path") -> GroundTruth:
    """Read and check a table: our own format, or an imported one with an `arch` or `child` column and an accuracy
    column (`test_acc`, `val_acc` or `accuracy`), optionally `seed`. `child` holds the space's names ('0-3-1', '142',
NAS-Bench-201 arch strings); `arch` holds either those or the ops form 'conv3 > maxpool3 > conv5'.

    Errors name the file, the row and what is wrong; a table that misses children only warns, naming them.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(key, str(path), "a readable CSV file (columns child|arch, accuracy|test_acc|val_acc[, seed])")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        raw = list(reader)
    name_column = "child" if "child" in columns else "arch" if "arch" in columns else None
    if name_column is None:
        raise ValueError(f"{path}: no 'child' or 'arch' column (columns: {columns})")
    if metric not in columns:
        available = [c for c in ACCURACY_COLUMNS if c in columns]
        if len(available) != 1 or metric != "test_acc":
            raise ConfigError("ground_truth.metric", metric, f"a column of {path}: one of {available or columns}")
        metric = available[0]
    rows, seen = [], set()
    for line, r in enumerate(raw, start=2):
        where = f"{path}:{line}"
        try:
            text = r[name_column]
            arch = space.parse_ops(text) if name_column == "arch" and ">" in text else space.parse(text)
        except ValueError as e:
            raise ValueError(f"{where}: {r[name_column]!r} is not a child of this space ({e})") from None
        child = space.name(arch)
        try:
            value = float(r.get("seed") or 0)  # 777.0 from a spreadsheet is seed 777
        except ValueError:
            value = math.nan
        if not value.is_integer():
            raise ValueError(f"{where}: seed {r.get('seed')!r} is not an integer")
        seed = int(value)
        if (child, seed) in seen:
            raise ValueError(f"{where}: duplicate row for child {child} seed {seed}")
        seen.add((child, seed))
        row = {"child": child, "seed": seed, metric: _float(r[metric], where)}
        for k in ("val_acc", "test_acc", "params", "epochs"):
            if k != metric and r.get(k) not in (None, ""):
                row[k] = _float(r[k], where) if k.endswith("acc") else int(float(r[k]))
        rows.append(row)
    if not rows:
        raise ValueError(f"{path}: the table has no rows")
    sidecar = path.with_suffix(".json")
    prov = json.loads(sidecar.read_text()) if sidecar.is_file() else {"imported_from": str(path)}
    table = GroundTruth(rows, metric, prov)
    ranked = space.ranked_children()
    have = set(table.children)
    missing = [space.name(i) for i in ranked if space.name(i) not in have]
    if missing:
        log.warning("ground truth %s lacks %d of the %d ranked children (e.g. %s); metrics use the %d it has",
                    path, len(missing), len(ranked), ", ".join(missing[:5]), len(ranked) - len(missing))
    return table


def find(cfg: DictConfig, space: SearchSpace) -> GroundTruth | None:
    """The ground truth for this run: `ground_truth.path` if given, else a complete cached table, else None."""
    metric = cfg.ground_truth.metric
    if cfg.ground_truth.get("path"):
        try:
            return read_table(cfg.ground_truth.path, space, metric)
        except ConfigError:
            raise
        except ValueError as e:  # a table for another space, duplicates, NaN...: the user's file, named
            raise ConfigError("ground_truth.path", cfg.ground_truth.path, f"a table for this space ({e})") from e
    table = cache_folder(cfg) / "ground_truth.csv"
    return read_table(table, space, metric) if table.is_file() else None


def read_parts(folder: Path) -> list[dict[str, Any]]:
    """Rows of every shard's part file, deduplicated on (child, seed)."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for part in sorted(folder.glob("part-*.csv")):
        with open(part, newline="") as f:
            for r in csv.DictReader(f):
                rows[(r["child"], int(r["seed"]))] = {
                    "child": r["child"], "seed": int(r["seed"]), "val_acc": float(r["val_acc"]),
                    "test_acc": float(r["test_acc"]), "params": int(r["params"]), "epochs": int(r["epochs"])}
    return list(rows.values())
