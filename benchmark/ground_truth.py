"""Ground truth: every child trained alone, cached by provenance; or a published table imported from CSV.

A table has one row per (child, seed): `child, seed, val_acc, test_acc, params, epochs`, and a sidecar JSON with its
provenance (space, data and training recipe, and their hash). The truth a supernet is judged against is the mean over
seeds of `ground_truth.metric` (test accuracy by default: data neither the supernet nor the ranking ever saw).

Tables are cached under `<paths.cache_dir>/ground_truth/<hash>/`. Each shard writes its own part file after every
finished chunk (atomically), so a killed run resumes without retraining finished (child, seed) pairs, and shards
running in parallel never write the same file; whichever shard completes the table merges the parts.

A cached table counts only when its sidecar, written after it, holds the SHA-256 of its bytes: a kill between the two
renames (or a table or sidecar lost or cut short) leaves an entry that readers treat as absent, and the next
`task=ground_truth` merges it again from the parts. A part-file row that does not parse counts as not trained.
"""
from __future__ import annotations

import csv
import hashlib
import io
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
TABLE = "ground_truth.csv"
#: How errors name a cached table (no config key names it).
CACHE_KEY = "ground_truth cache"
#: The sidecar's key for the SHA-256 of the table it belongs to.
CHECKSUM = "table_sha256"
#: Tables shipped with the benchmark for its built-in spaces, one folder per provenance hash, laid out as the cache.
SHIPPED = Path(__file__).parent / "tables"
#: Sidecar keys that describe the file, not where the table came from.
BOOKKEEPING = ("metric", CHECKSUM)


@dataclass
class GroundTruth:
    """Rows of (child name, seed, accuracies...) for one space, with where they came from."""

    rows: list[dict[str, Any]]
    metric: str = "test_acc"
    provenance: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the file it was read from ('' when built in memory)

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
        """Write the table, then its sidecar with the table's checksum: only a sidecar that matches proves the table
        whole (`read_cached`)."""
        path = Path(path)
        # Our own columns, plus an imported table's metric (e.g. `accuracy`); columns no row has are left out, so
        # the copy reads back as it was read.
        columns = [k for k in dict.fromkeys((*HEADER, self.metric))
                   if k in ("child", "seed") or any(r.get(k) not in (None, "") for r in self.rows)]
        digest = write_csv(path, columns, [[r.get(k, "") for k in columns] for r in self.rows])
        write_json(path.with_suffix(".json"), {**self.provenance, "metric": self.metric, CHECKSUM: digest})


#: Trainer arguments that change how ground truth trains, with the values that leave it as by default. Recorded only
#: when set otherwise, so that tables trained the default way keep their hash.
TRAINING_ARGS: dict[str, tuple[Any, ...]] = {
    "precision": (None, "32-true", "32", 32), "gradient_clip_val": (None, 0, 0.0), "gradient_clip_algorithm": (None,),
    "accumulate_grad_batches": (1,), "limit_train_batches": (None, 1.0), "max_steps": (None, -1),
    "overfit_batches": (0, 0.0),
}


#: Keys of the `ground_truth` node that change neither a table's numbers nor which table it is: where an imported one
#: lives and which column is the truth, speed, how many seeds have been trained so far and how the work is sharded.
NOT_PROVENANCE = ("path", "metric", "chunk", "seeds", "shard", "num_shards")


def provenance(cfg: DictConfig) -> dict[str, Any]:
    """What determines a ground-truth table: the space, the data, the standalone recipe and any trainer argument that
    changes training (not the chunk size, which only changes speed, nor where files go)."""
    data = {k: v for k, v in OmegaConf.to_container(cfg.data, resolve=True).items()
            if k not in ("cache_dir", "root", "eval_batch_size")}
    recipe = {k: v for k, v in OmegaConf.to_container(cfg.ground_truth, resolve=True).items()
              if k not in NOT_PROVENANCE}
    body = {"search_space": OmegaConf.to_container(cfg.search_space, resolve=True), "data": data, "recipe": recipe}
    given = cfg.get("trainer") or {}
    trainer = {k: given[k] for k in TRAINING_ARGS if k in given and given[k] not in TRAINING_ARGS[k]}
    if trainer:
        body["trainer"] = trainer
    digest = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return {**body, "hash": digest}


def cache_folder(cfg: DictConfig) -> Path:
    return Path(cfg.paths.cache_dir) / "ground_truth" / provenance(cfg)["hash"]


def _float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"accuracy is {value}; a ground-truth table needs finite accuracies")
    return x


def _integer(value: str, what: str) -> int:
    """An integer, also when written as a float: 777.0 from a spreadsheet is 777."""
    try:
        x = float(value)
    except ValueError:
        x = math.nan
    if not x.is_integer():
        raise ValueError(f"{what} {value!r} is not an integer")
    return int(x)


def _bad(key: str, path: Path, line: int, problem: str) -> ConfigError:
    """The error for a bad table file: the key that named it, the file and the line."""
    return ConfigError(key, str(path), f"{path}:{line}: {problem}")


def _decode(data: bytes, path: Path, key: str) -> str:
    """A file's text (UTF-8, with or without the byte-order mark spreadsheets write); other bytes name their line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _bad(key, path, data[:e.start].count(b"\n") + 1,
                   f"byte {data[e.start]:#04x} is not UTF-8 text (save the table as UTF-8 CSV)") from None


def _read_sidecar(table: Path, key: str) -> dict[str, Any] | None:
    """The JSON beside a table, or None if there is none."""
    sidecar = table.with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        value = json.loads(_decode(sidecar.read_bytes(), sidecar, key))
    except json.JSONDecodeError as e:
        raise _bad(key, sidecar, e.lineno, f"not JSON ({e.msg})") from None
    if not isinstance(value, dict):
        raise _bad(key, sidecar, 1, "not a JSON object")
    return value


def _row(r: dict[str, str], name_column: str, metric: str, space: SearchSpace) -> dict[str, Any]:
    """One checked row of a table; a ValueError says what is wrong with it."""
    text = r[name_column]
    try:
        child = space.child(space.index(space.parse_ops(text)) if name_column == "arch" and ">" in text else text)
    except ValueError as e:
        raise ValueError(f"{text!r} is not a child of this space ({e})") from None
    row = {"child": child.name, "seed": _integer(r.get("seed") or "0", "seed"), metric: _float(r[metric])}
    for k in ("val_acc", "test_acc", "params", "epochs"):
        if k != metric and r.get(k) not in (None, ""):
            row[k] = _float(r[k]) if k.endswith("acc") else _integer(r[k], k)
    return row


def _parse(text: str, path: Path, space: SearchSpace, metric: str, key: str,
           provenance: dict[str, Any]) -> GroundTruth:
    """The table in `text` (the contents of `path`), checked row by row; see `read_table`."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        records = [(reader.line_num, fields) for fields in reader if fields]
    except csv.Error as e:
        raise _bad(key, path, reader.line_num, f"not a CSV table ({e})") from None
    if not records:
        raise _bad(key, path, 1, "the file is empty; a table starts with a header row (child|arch, accuracy ...)")
    (header_line, columns), body = records[0], records[1:]
    if len(set(columns)) < len(columns):
        raise _bad(key, path, header_line, f"the header names a column twice ({', '.join(columns)})")
    name_column = "child" if "child" in columns else "arch" if "arch" in columns else None
    if name_column is None:
        raise _bad(key, path, header_line, f"no 'child' or 'arch' column (columns: {columns})")
    if metric not in columns:
        available = [c for c in ACCURACY_COLUMNS if c in columns]
        if len(available) != 1 or metric != "test_acc":
            raise ConfigError("ground_truth.metric", metric, f"a column of {path}: one of {available or columns}")
        metric = available[0]
    if not body:
        raise _bad(key, path, header_line + 1, "the table has no rows, only a header")
    rows, seen = [], set()
    for line, fields in body:
        if len(fields) != len(columns):
            raise _bad(key, path, line, f"expected {len(columns)} fields as in the header ({','.join(columns)}), "
                                        f"found {len(fields)}")
        try:
            row = _row(dict(zip(columns, fields)), name_column, metric, space)
        except ValueError as e:
            raise _bad(key, path, line, str(e)) from None
        if (row["child"], row["seed"]) in seen:
            raise _bad(key, path, line, f"duplicate row for child {row['child']} seed {row['seed']}")
        seen.add((row["child"], row["seed"]))
        rows.append(row)
    table = GroundTruth(rows, metric, {k: v for k, v in provenance.items() if k not in BOOKKEEPING}, str(path))
    ranked = space.ranked_children()
    have = set(table.children)
    missing = [space.name(i) for i in ranked if space.name(i) not in have]
    if missing:
        log.warning("ground truth %s lacks %d of the %d ranked children (e.g. %s); metrics use the %d it has",
                    path, len(missing), len(ranked), ", ".join(missing[:5]), len(ranked) - len(missing))
    return table


def read_table(path: str | Path, space: SearchSpace, metric: str = "test_acc",
               key: str = "ground_truth.path") -> GroundTruth:
    """Read and check a table: our own format, or an imported one with an `arch` or `child` column and an accuracy
    column (`test_acc`, `val_acc` or `accuracy`), optionally `seed`. `child` holds the space's names ('0-3-1', '142',
    NAS-Bench-201 arch strings); `arch` holds either those or the ops form 'conv3 > maxpool3 > conv5'.

    Anything wrong with the file (not UTF-8, a row with too few or too many fields, a child of another space, a
    duplicate, a NaN...) is a ConfigError naming `key`, the file and the line; a table that misses children only warns,
    naming them.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(key, str(path), "a readable CSV file (columns child|arch, accuracy|test_acc|val_acc[, seed])")
    provenance = _read_sidecar(path, key) or {"imported_from": str(path)}
    return _parse(_decode(path.read_bytes(), path, key), path, space, metric, key, provenance)


def _whole_table(path: Path) -> tuple[bytes, dict[str, Any]] | None:
    """The bytes and sidecar of the cached table at `path` if its sidecar vouches for exactly these bytes."""
    try:
        data, sidecar = path.read_bytes(), _read_sidecar(path, CACHE_KEY)
    except (OSError, ConfigError):
        return None
    if sidecar is None or sidecar.get(CHECKSUM) != hashlib.sha256(data).hexdigest():
        return None
    return data, sidecar


def read_cached(folder: Path, space: SearchSpace, metric: str) -> GroundTruth | None:
    """The table cached in `folder` if it is whole, else None: a table whose sidecar is missing, unreadable or written
    for other bytes (a run killed between the two renames; a file lost or cut short) is never used."""
    path = folder / TABLE
    whole = _whole_table(path)
    if whole is None:
        if path.exists() or path.with_suffix(".json").exists():
            log.warning("ground truth cache %s holds a table without a matching sidecar (a run killed while writing "
                        "them?): ignored; `python run.py task=ground_truth` with the same overrides merges it again "
                        "from the finished parts", folder)
        return None
    data, sidecar = whole
    return _parse(_decode(data, path, CACHE_KEY), path, space, metric, CACHE_KEY, sidecar)


def find(cfg: DictConfig, space: SearchSpace) -> GroundTruth | None:
    """The ground truth for this run: `ground_truth.path` if given; else the whole table this machine's
    `task=ground_truth` cached or the one shipped for this space, data and recipe, whichever has more seeds (on a tie
    the cached one: this machine's build); else None. A 3-seed table made here never hides a 10-seed one that ships."""
    if cfg.ground_truth.get("path"):
        return read_table(cfg.ground_truth.path, space, cfg.ground_truth.metric)
    cached = read_cached(cache_folder(cfg), space, cfg.ground_truth.metric)
    shipped = read_shipped(cfg, space)
    if cached is not None and shipped is not None and len(shipped.seeds) > len(cached.seeds):
        log.info("the table shipped for this space, data and recipe has more seeds (%d) than this machine's %s (%d): "
                 "ranking against the shipped one", len(shipped.seeds), cached.source, len(cached.seeds))
        return shipped
    return cached if cached is not None else shipped


def read_shipped(cfg: DictConfig, space: SearchSpace) -> GroundTruth | None:
    """The table shipped with the benchmark for this space, data and recipe, if there is one."""
    shipped = SHIPPED / provenance(cfg)["hash"]
    return read_cached(shipped, space, cfg.ground_truth.metric) if shipped.is_dir() else None


def _part_row(header: list[str], fields: list[str]) -> dict[str, Any]:
    """One row of a shard's part file (our own format); a KeyError or ValueError if it does not parse."""
    if len(fields) != len(header):
        raise ValueError(f"{len(fields)} fields where the header has {len(header)}")
    r = dict(zip(header, fields))
    return {"child": r["child"], "seed": int(r["seed"]), "val_acc": _float(r["val_acc"]),
            "test_acc": _float(r["test_acc"]), "params": int(r["params"]), "epochs": int(r["epochs"])}


def read_parts(folder: Path) -> list[dict[str, Any]]:
    """Rows of every shard's part file, deduplicated on (child, seed). A row or file that does not parse (e.g. cut
    short by a crash of the machine) is left out with a warning: its pairs count as not trained yet."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for part in sorted(folder.glob("part-*.csv")):
        try:
            header, *body = list(csv.reader(io.StringIO(part.read_text(encoding="utf-8"), newline=""))) or [[]]
        except (OSError, ValueError, csv.Error) as e:
            log.warning("ground truth part %s is unreadable (%s): its pairs will be trained again", part, e)
            continue
        for line, fields in enumerate(body, start=2):
            try:
                row = _part_row(header, fields)
            except (KeyError, ValueError) as e:
                log.warning("%s:%d: unreadable row (%s %s): its pair will be trained again", part, line,
                            type(e).__name__, e)
                continue
            rows[(row["child"], row["seed"])] = row
    return list(rows.values())
