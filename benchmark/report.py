"""Cross-seed report: what the rankings of many runs say, in the papers' format.

`python -m benchmark.report PATH... [--out DIR] [--last-k K]` reads run folders (or sweep folders holding them) and
writes `report.md`, `summary.csv`, `per_epoch.csv`, PNG plots and a W&B run per study group. A Hydra callback runs it
at the end of every multirun (`report/` beside the jobs). The report is a pure function of the files runs leave
behind (`rankings.csv`, `snapshot.json`, `.hydra/`, `ground_truth.csv`).

What is counted is verified first: the run's `.hydra/config.yaml` is there, its `status.json` (if any) says
`completed`, and `rankings.csv` holds every epoch 0..E-1 that the config's `trainer.max_epochs` = E promised, each a
complete snapshot (every ranked child once, ranks exactly 1..n for snapshot.json's `num_children` = n, finite
accuracies). A folder given twice, however spelled, is read once; a second run of the same seed and variant is a
duplicate. Everything not counted - a damaged or unfinished run (with its status and message), a folder without a
config, an empty folder, a duplicate - is named with why under "Skipped" in report.md and in the log.

Runs of different search spaces (snapshot.json's description) or ranking different children are refused with one
error that names the folders of each; report them separately. So is a set of paths with nothing countable: the CLI
exits 2 with one line `error: ...` naming what it looked at and why each was skipped, and the multirun callback logs
that line and writes no report (a sweep never fails for its report).

Variants are the swept keys other than `seed` (e.g. `sharing=partial sampler=uniform`); seeds of a variant are its
instances. S-Tau is the mean pairwise Kendall tau of the instances' final rankings; GT-Tau, T1R, T3R and regret are
averaged over instances; "epoch tau" is the mean Kendall tau between consecutive epochs over the last k epochs, and
GT-Tau-Mean-k / Std-k are over the last k snapshots of each run, averaged over instances: step-level (the last
`dense_k` mini-batches, Deeper Insights' definition) when every judged run of the variant left dense snapshots
(`rankings_dense.csv`, checked like rankings.csv), epoch-level (the last `last_k` epochs) otherwise; the table says
which. With dense snapshots the report also says where the children trained last rank (`benchmark/dense.py`).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import yaml
from hydra.experimental.callback import Callback
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from benchmark import dense, metrics, statistics
from benchmark.callbacks.ranking import HEADER
from benchmark.ground_truth import read_table
from benchmark.spaces import SearchSpace
from benchmark.variants import variant_overrides
from benchmark.io import atomic_path, write_csv

log = logging.getLogger(__name__)

class ReportError(ValueError):
    """Inputs that cannot be reported (runs of different spaces, nothing countable); the CLI exits 2 with its text."""


#: What makes a folder a run folder, even a damaged one: a run that lost its config is named, not overlooked.
RUN_MARKERS = (".hydra", "rankings.csv", "snapshot.json", "status.json")
#: What a damaged file raises while it is read; such a run is skipped with the error's text.
DAMAGE = (OSError, ValueError, KeyError, csv.Error, yaml.YAMLError)
SNAPSHOT_KEYS = ("space", "decisions", "choices", "num_children")


@dataclass
class Run:
    path: Path
    seed: int
    overrides: dict[str, str]  # command-line overrides other than seed, paths and logging
    study: str
    space: dict[str, Any]
    epochs: dict[int, dict[str, float]]  # epoch -> child -> val_acc
    truth: dict[str, float] | None
    variant: str = "default"
    steps: dict[int, dict[str, float]] = field(default_factory=dict)  # dense snapshots: step -> child -> val_acc
    since: dict[int, dict[str, int]] = field(default_factory=dict)  # step -> child -> steps since it was trained
    sharing: str = ""  # the sharing policy as configured, e.g. PartialSharing(groups=4, ..., budget=per_group)
    environment: dict[str, Any] = field(default_factory=dict)  # environment.json: build, threads, hardware

    @property
    def final(self) -> dict[str, float]:
        return self.epochs[max(self.epochs)]


@dataclass
class Inputs:
    runs: list[Run] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    common: dict[str, str] = field(default_factory=dict)  # overrides every run shares

    def skip(self, path: str | Path, why: str) -> None:
        """Name a folder that is not counted, on one line (a status message may span several)."""
        self.skipped.append((str(path), " ".join(why.split())))


def _empty_or_runless(folder: Path, runs: list[Path]) -> list[tuple[str, str]]:
    """Why a given folder, or a job folder directly in it, yields nothing: an empty job folder in a sweep is a job
    that never wrote its files, and deserves a word (a run's own empty subfolders do not)."""
    if folder in runs:
        return []
    if not runs:
        return [(str(folder), "empty folder" if not any(folder.iterdir()) else
                 f"no run folder in it (none holds {', '.join(RUN_MARKERS)})")]
    return [(str(f), "empty folder") for f in sorted(folder.iterdir()) if f.is_dir() and not any(f.iterdir())]


def find_run_folders(paths: Sequence[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Run folders under `paths` in the order given (each once, however it was spelled, so the first of duplicates is
    the one kept) and the folders that yield none, with why."""
    found: dict[Path, Path] = {}  # resolved -> as first given
    nothing: list[tuple[str, str]] = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise ReportError(f"{p}: no such folder")
        runs = sorted({m.parent for name in RUN_MARKERS for m in p.glob(f"**/{name}")})
        nothing += _empty_or_runless(p, runs)
        for run in runs:
            found.setdefault(run.resolve(), run)
    return list(found.values()), nothing


def _get(data: Any, dotted: str) -> Any:
    """`data[a][b]` for 'a.b', None where a level is missing or not a mapping (a hand-edited or damaged file)."""
    for key in dotted.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _mapping(data: Any, name: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"{name} does not hold a mapping (damaged?)")
    return data


def _check_status(folder: Path) -> None:
    """Only completed runs count; any other status is named with the message the run left (a folder without
    status.json, e.g. a hand-made one, is judged by its rankings alone)."""
    file = folder / "status.json"
    if file.exists():
        status = _mapping(json.loads(file.read_text()), "status.json")
        if status.get("status") != "completed":
            message = f": {status['message']}" if status.get("message") else ""
            raise ValueError(f"run did not complete (status {status.get('status')!r}{message})")


def _read_config(folder: Path) -> tuple[dict[str, Any], int, int]:
    """The run's composed config, its seed and the epochs it promised (what rankings.csv must hold)."""
    file = folder / ".hydra" / "config.yaml"
    if not file.exists():
        raise ValueError("no .hydra/config.yaml (its seed, task and trainer.max_epochs are unknown)")
    config = _mapping(yaml.safe_load(file.read_text()), ".hydra/config.yaml")
    if _get(config, "task.name") != "search":
        raise ValueError(f"task {_get(config, 'task.name')!r} is not a search run")
    seed, max_epochs = _get(config, "seed"), _get(config, "trainer.max_epochs")
    if not isinstance(seed, int):
        raise ValueError(f".hydra/config.yaml has seed={seed!r}, not an integer")
    if not (isinstance(max_epochs, int) and max_epochs >= 1):
        raise ValueError(f".hydra/config.yaml has trainer.max_epochs={max_epochs!r}, not an integer >= 1")
    return config, seed, max_epochs


def _read_snapshot(folder: Path) -> dict[str, Any]:
    snapshot = _mapping(json.loads((folder / "snapshot.json").read_text()), "snapshot.json")
    missing = [k for k in SNAPSHOT_KEYS if k not in snapshot]
    if missing:
        raise ValueError(f"snapshot.json lacks {', '.join(missing)}")
    if not (isinstance(snapshot["num_children"], int) and snapshot["num_children"] >= 2):
        raise ValueError(f"snapshot.json has num_children={snapshot['num_children']!r}, not an integer >= 2")
    return snapshot


def _read_rows(file: Path) -> tuple[dict[int, list[tuple[int, str, float]]], dict[str, float]]:
    """rankings.csv as epoch -> [(rank, child, val_acc)], and the ground truth where the file holds one."""
    rows: dict[int, list[tuple[int, str, float]]] = {}
    truth: dict[str, float] = {}
    with open(file, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ())[: len(HEADER)] != HEADER:
            raise ValueError(f"rankings.csv has header {reader.fieldnames}, expected {list(HEADER)}")
        for line, row in enumerate(reader, start=2):
            try:
                if None in row:  # more fields than the header: lines run together
                    raise ValueError
                epoch, rank, acc = int(row["epoch"]), int(row["rank"]), float(row["val_acc"])
                gt = float(row["gt_acc"]) if row.get("gt_acc") else None
            except (TypeError, ValueError):
                raise ValueError(f"rankings.csv line {line} is malformed (truncated file?): {row}") from None
            if not np.isfinite([acc, 0.0 if gt is None else gt]).all():
                raise ValueError(f"rankings.csv line {line} holds a non-finite accuracy")
            rows.setdefault(epoch, []).append((rank, row["child"], acc))
            if gt is not None:
                truth[row["child"]] = gt
    return rows, truth


def _check_epochs(rows: dict[int, list[tuple[int, str, float]]], n: int, max_epochs: int) -> None:
    """Epochs 0..max_epochs-1, each a complete snapshot of the same n children: ranks 1..n, every child once."""
    missing = sorted(set(range(max_epochs)) - rows.keys())
    if missing:
        raise ValueError(f"rankings.csv has {max_epochs - len(missing)} of the {max_epochs} epochs the config "
                         f"promised (trainer.max_epochs); epoch {missing[0]} is missing (stopped early or truncated)")
    if rows.keys() - set(range(max_epochs)):
        raise ValueError(f"rankings.csv has epochs beyond trainer.max_epochs={max_epochs}: "
                         f"{sorted(rows.keys() - set(range(max_epochs)))}")
    for epoch, ranked in sorted(rows.items()):
        children = {c for _, c, _ in ranked}
        if len(ranked) != n or len(children) != n:
            raise ValueError(f"rankings.csv epoch {epoch} has {len(ranked)} rows for {len(children)} children, "
                             f"expected {n} children once each (truncated or duplicated?)")
        if sorted(r for r, _, _ in ranked) != list(range(1, n + 1)):
            raise ValueError(f"rankings.csv epoch {epoch} does not hold ranks 1..{n} once each (a cut line?)")
    if len({frozenset(c for _, c, _ in ranked) for ranked in rows.values()}) > 1:
        raise ValueError("rankings.csv ranks different children in different epochs")


def load_run(folder: Path) -> Run:
    """One run, fully checked; raises ValueError naming what is wrong."""
    _check_status(folder)
    config, seed, max_epochs = _read_config(folder)
    overrides_file = folder / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.exists() else []
    rankings, snapshot_file = folder / "rankings.csv", folder / "snapshot.json"
    if not rankings.exists() or not snapshot_file.exists():
        raise ValueError("no rankings.csv / snapshot.json (the run failed before its first snapshot?)")
    snapshot = _read_snapshot(folder)
    rows, truth = _read_rows(rankings)
    _check_epochs(rows, snapshot["num_children"], max_epochs)
    # Listed by the rank column, so that the metrics judge the run's own pick when accuracies tie (see metrics.py).
    epochs = {e: {c: acc for _, c, acc in sorted(ranked)} for e, ranked in sorted(rows.items())}
    steps, since = dense.read(folder / dense.FILE, snapshot["num_children"]) if (folder / dense.FILE).exists() \
        else ({}, {})
    return Run(folder, seed, variant_overrides(overrides), _study(folder, config),
               {**{k: snapshot[k] for k in SNAPSHOT_KEYS},
                "space_size": snapshot.get("space_size", snapshot["num_children"])}, epochs, truth or None,
               steps=steps, since=since, sharing=_sharing(config), environment=_environment(folder))


#: What makes two runs' numbers bit-comparable; runs differing in these agree only statistically.
BUILD = ("torch", "threads", "cpu", "gpus")


def _environment(folder: Path) -> dict[str, Any]:
    """The run's environment.json (absent in runs made before it existed, or unreadable: {} either way)."""
    try:
        data = json.loads((folder / "environment.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: data.get(k) for k in BUILD} if isinstance(data, dict) else {}


def mixed_environments(runs: list[Run]) -> list[str]:
    """A warning per variant whose runs ran on different builds, thread counts or hardware."""
    by_variant: dict[str, list[Run]] = {}
    for r in runs:
        by_variant.setdefault(r.variant, []).append(r)
    warnings = []
    for variant, runs in by_variant.items():
        seen = {json.dumps(r.environment, sort_keys=True) for r in runs if r.environment}
        if len(seen) > 1:
            differing = sorted({k for r in runs for k in BUILD if r.environment.get(k) != runs[0].environment.get(k)})
            warnings.append(f"**Warning: the runs of `{variant}` differ in {', '.join(differing)}** "
                            f"(environment.json): their numbers agree only statistically, not bit for bit.")
    return warnings


def _sharing(config: dict[str, Any]) -> str:
    """The run's sharing policy and its settings, as the report states them (the budget decides what m groups mean)."""
    node = config.get("sharing")
    if not isinstance(node, dict):
        return ""
    settings = {k: v for k, v in node.items() if k != "_target_"}
    policy = str(node.get("_target_", "")).rsplit(".", 1)[-1]
    if policy == "PartialSharing" and "budget" not in settings:
        settings["budget"] = "fixed"  # runs made before sharing.budget existed trained one child per step
    return f"{policy}({', '.join(f'{k}={v}' for k, v in settings.items())})"


def _study(folder: Path, config: dict[str, Any]) -> str:
    """The run's study name as its W&B group was resolved: the saved config keeps `${hydra:...}` unresolved, so it is
    resolved here against the run's own `.hydra/hydra.yaml` ('' where that cannot be done)."""
    study, hydra_file = str(config.get("study", "")), folder / ".hydra" / "hydra.yaml"
    if "${" not in study:
        return study
    if not hydra_file.exists():
        return ""
    try:
        node = OmegaConf.create({"study": study.replace("${hydra:", "${hydra."),
                                 "hydra": yaml.safe_load(hydra_file.read_text())["hydra"]})
        return str(node.study)
    except Exception:  # an old or hand-made run folder: group its report under 'report'
        return ""


def assign_variants(runs: list[Run]) -> dict[str, str]:
    """Label each run by the overrides that differ between runs (the swept keys) or, when every run shares them, by
    the config-group options chosen for all (`sharing=partial`; 'default' without any; finer settings are listed
    under "Common settings"); return the shared ones."""
    keys = sorted({k for r in runs for k in r.overrides})
    swept = [k for k in keys if len({r.overrides.get(k) for r in runs}) > 1]
    common = {k: runs[0].overrides[k] for k in keys if k not in swept and k in runs[0].overrides}
    chosen = " ".join(f"{k}={v}" for k, v in common.items() if "." not in k) or "default"
    for r in runs:
        r.variant = " ".join(f"{k}={r.overrides.get(k, '(default)')}" for k in swept) if swept else chosen
    return common


def _drop_duplicates(inputs: Inputs) -> None:
    """One run per seed and variant: a copied run folder would otherwise count as another instance."""
    kept: dict[tuple[int, tuple[tuple[str, str], ...]], Run] = {}
    for r in inputs.runs:
        key = (r.seed, tuple(sorted(r.overrides.items())))
        if key in kept:
            inputs.skip(r.path, f"duplicate of {kept[key].path} (the same seed {r.seed} and overrides)")
        else:
            kept[key] = r
    inputs.runs = list(kept.values())


def _refuse_mixed(runs: list[Run], label: Callable[[Run], str], what: str) -> None:
    """Raise ReportError naming the folders under each label when the runs have more than one."""
    groups: dict[str, list[str]] = {}
    for r in runs:
        groups.setdefault(label(r), []).append(str(r.path))
    if len(groups) > 1:
        named = "; ".join(f"{k}: {', '.join(folders)}" for k, folders in groups.items())
        raise ReportError(f"the runs {what}; report each separately: {named}")


def _sample_label(run: Run) -> str:
    """A short name for the children a run ranks: runs ranking different samples cannot be compared child by child."""
    return f"children sample {hashlib.sha1(' '.join(sorted(run.final)).encode()).hexdigest()[:8]}"


def load_inputs(paths: Sequence[str | Path]) -> Inputs:
    """The verified runs under `paths`, and every folder not counted with why."""
    inputs = Inputs()
    folders, nothing = find_run_folders(paths)
    for path, why in nothing:
        inputs.skip(path, why)
    for folder in folders:
        try:
            inputs.runs.append(load_run(folder))
        except DAMAGE as e:
            inputs.skip(folder, str(e))
    _drop_duplicates(inputs)
    _refuse_mixed(inputs.runs, lambda r: json.dumps(r.space), "come from different search spaces")
    _refuse_mixed(inputs.runs, _sample_label,
                  "rank different children (a different search_space.eval_children or eval_seed)")
    if inputs.runs:
        inputs.common = assign_variants(inputs.runs)
    return inputs


def nothing_to_report(paths: Sequence[str | Path], inputs: Inputs) -> str:
    """One line: what was looked at and why nothing there counts."""
    why = "; ".join(f"{p}: {reason}" for p, reason in inputs.skipped)
    return f"no run to report in {', '.join(map(str, paths))} ({why})"


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


#: Figures measured once per seed: their interval resamples seeds and two variants are compared seed by seed.
PER_SEED = ("gt_tau", "t1r", "t3r", "regret", "gt_tau_mean_k", "epoch_tau", "top1_changes")
#: Figures measured on pairs of seeds: their interval resamples seeds; no paired test.
PAIRWISE = ("s_tau", "top5_overlap")


def variant_summary(runs: list[Run], last_k: int, dense_k: int = 64) -> dict[str, Any]:
    """The variant's figures (means over seeds), each with a 95% bootstrap interval (`<figure>_low/_high`) over seeds
    or, for a single run, over children; `per_seed` keeps each seed's value for the paired tests."""
    row: dict[str, Any] = {"runs": len(runs), "seeds": " ".join(str(r.seed) for r in sorted(runs, key=lambda r: r.seed)),
                           "epochs": min(max(r.epochs) for r in runs) + 1}
    per_seed: dict[str, dict[int, float]] = {key: {} for key in PER_SEED}
    finals = [r.final for r in runs]
    if len(runs) >= 2:
        st = metrics.s_tau(finals)
        overlap = lambda a, b: metrics.top_k_overlap(a, b, 5)  # noqa: E731
        row.update({"s_tau": st["mean"], "s_tau_min": st["min"], "s_tau_max": st["max"],
                    "top5_overlap": _mean([overlap(a, b) for i, a in enumerate(finals) for b in finals[i + 1:]])})
        _interval(row, "s_tau", statistics.pairwise_interval(finals, metrics.kendall_tau))
        _interval(row, "top5_overlap", statistics.pairwise_interval(finals, overlap))
    for r in runs:
        tail = sorted(r.epochs)[-(last_k + 1):]
        pairs = list(zip(tail, tail[1:]))
        if pairs:
            per_seed["epoch_tau"][r.seed] = _mean([metrics.kendall_tau(r.epochs[a], r.epochs[b]) for a, b in pairs])
            per_seed["top1_changes"][r.seed] = _mean([metrics.ranking(r.epochs[a])[0] != metrics.ranking(r.epochs[b])[0]
                                                      for a, b in pairs])
    judged = [r for r in runs if r.truth]
    for r in judged:
        per_seed["gt_tau"][r.seed] = metrics.kendall_tau(r.final, r.truth)
        per_seed["t1r"][r.seed] = metrics.top_n_rank(r.final, r.truth, 1)
        per_seed["t3r"][r.seed] = metrics.top_n_rank(r.final, r.truth, 3)
        per_seed["regret"][r.seed] = metrics.regret(r.final, r.truth)
    if judged:
        row["gt_tau_std"] = float(np.std(list(per_seed["gt_tau"].values())))
        if all(r.steps for r in judged):  # Deeper Insights' definition: the last k mini-batches
            lastk = {r.seed: dense.gt_tau_last_k(r.steps, r.truth, dense_k) for r in judged}
            unit = "steps"
        else:
            lastk = {r.seed: metrics.last_k_stats([metrics.kendall_tau(r.epochs[e], r.truth) for e in sorted(r.epochs)],
                                                  last_k) for r in judged}
            unit = "epochs"
        per_seed["gt_tau_mean_k"] = {seed: s["mean"] for seed, s in lastk.items()}
        row.update({"gt_tau_std_k": _mean([s["std"] for s in lastk.values()]),
                    "k": f"{min(s['k'] for s in lastk.values())} {unit}"})
    for key, values in per_seed.items():
        if values:
            row[key] = _mean(list(values.values()))
            _interval(row, key, statistics.mean_interval(list(values.values())))
    if len(judged) == 1:  # one seed: how much its GT-Tau owes to which children the space holds
        _interval(row, "gt_tau", statistics.children_interval(judged[0].final, judged[0].truth, metrics.kendall_tau))
    row["ci_over"] = "seeds" if len(runs) >= statistics.MIN_VALUES else "children" if len(judged) == 1 else ""
    row["per_seed"] = {key: values for key, values in per_seed.items() if values}
    return row


def _interval(row: dict[str, Any], key: str, interval: tuple[float, float] | None) -> None:
    if interval is not None:
        row[f"{key}_low"], row[f"{key}_high"] = interval


def compare(rows: list[dict[str, Any]], baseline: str) -> list[dict[str, Any]]:
    """Each variant against `baseline` on the seeds both ran: mean difference and the exact sign-flip p-value of
    every per-seed figure, and a verdict on the main one (GT-Tau with a ground truth, else epoch tau)."""
    base = next(r for r in rows if r["variant"] == baseline)
    main = "gt_tau" if "gt_tau" in base.get("per_seed", {}) else "epoch_tau"
    out = []
    for row in rows:
        if row is base:
            continue
        result: dict[str, Any] = {"variant": row["variant"], "baseline": baseline, "main": main}
        for key in PER_SEED:
            test = statistics.paired_test(row.get("per_seed", {}).get(key, {}), base.get("per_seed", {}).get(key, {}))
            if test is not None:
                result.update({f"{key}_diff": test["diff"], f"{key}_p": test["p"], "pairs": test["pairs"],
                               "p_floor": test["p_floor"]})
        if f"{main}_p" not in result:
            result["verdict"] = "not compared: fewer than two seeds in common"
        elif result[f"{main}_p"] < 0.05:
            result["verdict"] = "differs"
        else:
            floor = f"; {result['pairs']} paired seeds cannot give p below {result['p_floor']:.3f}" \
                if result["p_floor"] >= 0.05 else ""
            result["verdict"] = f"not distinguishable (p = {result[f'{main}_p']:.2f}{floor})"
        out.append(result)
    return out


def random_floor(truth: dict[str, float] | None, children: list[str], instances: int, seed: int = 0,
                 trials: int = 200) -> dict[str, Any]:
    """What random rankings score, by simulation (seeded): the floor of every column."""
    rng = np.random.default_rng(seed)
    draw = lambda: dict(zip(children, rng.permutation(len(children)).astype(float)))  # noqa: E731
    row: dict[str, Any] = {"s_tau": _mean([metrics.s_tau([draw() for _ in range(max(2, instances))])["mean"]
                                           for _ in range(trials)])}
    if truth:
        samples = [draw() for _ in range(trials)]
        row.update({"gt_tau": _mean([metrics.kendall_tau(s, truth) for s in samples]),
                    "t1r": _mean([metrics.top_n_rank(s, truth, 1) for s in samples]),
                    "t3r": _mean([metrics.top_n_rank(s, truth, 3) for s in samples]),
                    "regret": _mean([metrics.regret(s, truth) for s in samples])})
    return row


def per_epoch(runs: list[Run]) -> list[dict[str, Any]]:
    """S-Tau and GT-Tau (mean and std over instances) at every epoch all instances reached."""
    rows = []
    for epoch in sorted(set.intersection(*(set(r.epochs) for r in runs))):
        row: dict[str, Any] = {"epoch": epoch}
        if len(runs) >= 2:
            row["s_tau"] = metrics.s_tau([r.epochs[epoch] for r in runs])["mean"]
        gt = [metrics.kendall_tau(r.epochs[epoch], r.truth) for r in runs if r.truth]
        if gt:
            row.update({"gt_tau": _mean(gt), "gt_tau_std": float(np.std(gt))})
        rows.append(row)
    return rows


COLUMNS = ("variant", "runs", "seeds", "epochs", "s_tau", "s_tau_min", "s_tau_max", "gt_tau", "gt_tau_std", "t1r",
           "t3r", "regret", "epoch_tau", "top1_changes", "top5_overlap", "gt_tau_mean_k", "gt_tau_std_k", "k",
           "ci_over", *(f"{key}_{end}" for key in PAIRWISE + PER_SEED for end in ("low", "high")))
#: comparisons.csv: each variant against the baseline, seed by seed.
COMPARISON_COLUMNS = ("variant", "baseline", "pairs", "p_floor", "main", "verdict",
                      *(f"{key}_{end}" for key in PER_SEED for end in ("diff", "p")))


def _fmt(row: dict[str, Any], key: str, digits: int = 2) -> str:
    v = row.get(key)
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


#: (column, name, whether higher is better): what a variant must beat the random ranking on to carry information.
AGAINST_RANDOM = (("gt_tau", "GT-Tau", True), ("t1r", "T1R", False), ("t3r", "T3R", False), ("s_tau", "S-Tau", True))


def no_better_than_random(row: dict[str, Any], floor: dict[str, Any]) -> list[str]:
    """The columns on which a variant's mean is not better than random rankings', as 'T1R 43.8 vs 31.2'."""
    worse = []
    for key, name, higher in AGAINST_RANDOM:
        mine, chance = row.get(key), floor.get(key)
        if mine is None or chance is None or np.isnan(mine) or np.isnan(chance):
            continue
        if (mine <= chance) if higher else (mine >= chance):
            worse.append(f"{name} {mine:.2f} vs {chance:.2f}")
    return worse


def _warnings(rows: list[dict[str, Any]], references: list[dict[str, Any]], runs: list[Run]) -> list[str]:
    floor = next((r for r in references if r["variant"] == "random ranking"), {})
    return [f"**Warning: `{r['variant']}` is not better than random rankings on {', '.join(worse)}** (the "
            "\"random ranking\" row): its rankings carry little information about the children."
            for r in rows if (worse := no_better_than_random(r, floor))] + mixed_environments(runs)


def _ci(row: dict[str, Any], key: str, digits: int = 2) -> str:
    """'0.67 [0.61, 0.72]': the figure and its 95% interval, where there is one."""
    if f"{key}_low" not in row:
        return _fmt(row, key, digits)
    return f"{_fmt(row, key, digits)} [{_fmt(row, f'{key}_low', digits)}, {_fmt(row, f'{key}_high', digits)}]"


def comparison_section(comparisons: list[dict[str, Any]]) -> str:
    """Paired tests against the baseline, with what their number of seeds allows."""
    if not comparisons:
        return ""
    baseline, main = comparisons[0]["baseline"], comparisons[0]["main"]
    name = {"gt_tau": "GT-Tau", "epoch_tau": "epoch tau"}[main]
    lines = [f"## Paired tests against `{baseline}`", "",
             f"Differences of per-seed figures (variant minus baseline) on the seeds both ran, with the exact two-sided "
             f"sign-flip permutation p-value; the verdict is on {name}. With n paired seeds no p-value is below "
             f"2/2^n (0.125 for 4, 0.0625 for 5): a study that wants p < 0.05 needs 6 or more.", "",
             "| variant | paired seeds | Δ GT-Tau (p) | Δ T1R (p) | Δ GT-Tau-Mean-k (p) | Δ epoch tau (p) | verdict |",
             "|---|---|---|---|---|---|---|"]
    for c in comparisons:
        cell = lambda key, digits=2: "—" if f"{key}_diff" not in c else \
            f"{c[f'{key}_diff']:+.{digits}f} ({c[f'{key}_p']:.2f})"  # noqa: E731
        lines.append(f"| {c['variant']} | {c.get('pairs', 0)} | {cell('gt_tau')} | {cell('t1r', 1)} | "
                     f"{cell('gt_tau_mean_k')} | {cell('epoch_tau')} | {c['verdict']} |")
    return "\n".join(lines) + "\n\n"


def _k_note(row: dict[str, Any]) -> str:
    """Over what GT-Tau-Mean-k / Std-k were taken: ' (64 steps)' or ' (5 epochs)'."""
    return f" ({row['k']})" if row.get("k") else ""


def _sample_note(space: dict[str, Any]) -> str:
    ranked = space.get("num_children")
    return "" if ranked == space.get("space_size") else f", ranking a fixed sample of {ranked}"


def _sharing_lines(runs: list[Run]) -> list[str]:
    """Each variant's sharing policy with its settings (per-group or fixed budget), once per distinct policy."""
    policies: dict[str, list[str]] = {}
    for r in runs:
        if r.sharing and r.variant not in policies.setdefault(r.sharing, []):
            policies[r.sharing].append(r.variant)
    if not policies:
        return []
    if len(policies) == 1:
        return [f"Sharing: `{next(iter(policies))}`.", ""]
    return ["Sharing:", ""] + [f"- {', '.join(variants)}: `{policy}`" for policy, variants in policies.items()] + [""]


def markdown(inputs: Inputs, rows: list[dict[str, Any]], references: list[dict[str, Any]], last_k: int,
             plots: list[str]) -> str:
    space = inputs.runs[0].space
    lines = ["# Weight-sharing variance report", "",
             f"Space: {space.get('space')} with {space.get('space_size')} children{_sample_note(space)} "
             f"({' x '.join(str(len(c)) for c in space.get('choices', []))}). "
             f"{len(inputs.runs)} runs in {len(rows)} variant(s); {len(inputs.skipped)} skipped. "
             f"Common settings: {' '.join(f'{k}={v}' for k, v in inputs.common.items()) or 'the defaults'}.", "",
             *_sharing_lines(inputs.runs),
             "| variant | runs | S-Tau | GT-Tau | T1R | T3R | regret | "
             f"epoch tau (last {last_k}) | top-1 changes | top-5 overlap | GT-Tau-Mean-k / Std-k (last k) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows + references:
        lines.append(f"| {r['variant']} | {r.get('runs', '—')} | {_ci(r, 's_tau')} | {_ci(r, 'gt_tau')} | "
                     f"{_ci(r, 't1r', 1)} | {_ci(r, 't3r', 1)} | {_ci(r, 'regret', 4)} | {_ci(r, 'epoch_tau')} | "
                     f"{_ci(r, 'top1_changes')} | {_ci(r, 'top5_overlap')} | "
                     f"{_ci(r, 'gt_tau_mean_k')} / {_fmt(r, 'gt_tau_std_k')}{_k_note(r)} |")
    lines += ["", "S-Tau: mean pairwise Kendall tau-b of the instances' final rankings. GT-Tau: Kendall tau-b of the "
              "final ranking against the ground truth (positive = agrees). TnR: best ground-truth rank among the "
              "supernet's top n (1 = found the true best). Regret: ground-truth accuracy of the true best minus that of "
              "the supernet's pick. Epoch tau: mean tau between consecutive epochs over the last k; top-1 changes: share of those "
              "epoch steps where the best child changed; top-5 overlap: mean share of the top 5 two seeds agree on. "
              "Reference rows: the ground truth's own seeds (its ceiling) and random rankings. "
              "Each figure is the mean over seeds with its 95% bootstrap interval in brackets (over seeds; for a "
              "single run, GT-Tau's over children); no interval below 3 seeds. Spreads (min, max, std) are in "
              "summary.csv.", ""]
    lines += [w + "\n" for w in _warnings(rows, references, inputs.runs)]
    if inputs.skipped:
        lines += ["## Skipped", ""] + [f"- `{p}`: {why}" for p, why in inputs.skipped] + [""]
    lines += [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def build_report(paths: Sequence[str | Path], out: str | Path, last_k: int = 5, use_wandb: bool = True,
                 top_k: int = 5, proxies: str | Path | None = None, dense_k: int = 64,
                 baseline: str | None = None) -> list[dict[str, Any]]:
    """Write the report for the runs under `paths` into `out`; returns the summary rows. Variants are tested
    against `baseline` (a variant label; default: 'default' if there is one, else the first in order)."""
    from benchmark import plots

    if not (isinstance(last_k, int) and last_k >= 1):
        raise ReportError(f"last_k={last_k!r}: GT-Tau-Mean-k needs an integer k >= 1 (the last k snapshots)")
    inputs = load_inputs(paths)
    if not inputs.runs:  # the error names every skipped folder: one line, not the same news twice
        raise ReportError(nothing_to_report(paths, inputs))
    for path, why in inputs.skipped:
        log.warning("report: skipping %s: %s", path, why)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    by_variant: dict[str, list[Run]] = {}
    for r in inputs.runs:
        by_variant.setdefault(r.variant, []).append(r)
    rows = [{"variant": v, **variant_summary(rs, last_k, dense_k)} for v, rs in sorted(by_variant.items())]
    labels = [r["variant"] for r in rows]
    if baseline is not None and baseline not in labels:
        raise ReportError(f"baseline {baseline!r} is not a variant of these runs; their variants: {labels}")
    comparisons = compare(rows, baseline or ("default" if "default" in labels else labels[0])) if len(rows) > 1 else []
    write_csv(out / "comparisons.csv", COMPARISON_COLUMNS, [[c.get(k, "") for k in COMPARISON_COLUMNS]
                                                            for c in comparisons])
    references = _references(inputs, max(len(rs) for rs in by_variant.values()))
    if proxies:
        references = proxy_rows(proxies, next((r.truth for r in inputs.runs if r.truth), None)) + references
    epoch_rows = {v: per_epoch(rs) for v, rs in sorted(by_variant.items())}
    write_csv(out / "summary.csv", COLUMNS, [[r.get(c, "") for c in COLUMNS] for r in rows + references])
    write_csv(out / "per_epoch.csv", ("variant", "epoch", "s_tau", "gt_tau", "gt_tau_std"),
              [[v, r["epoch"], r.get("s_tau", ""), r.get("gt_tau", ""), r.get("gt_tau_std", "")]
               for v, rs in epoch_rows.items() for r in rs])
    pngs = [name for key, name, title in (("s_tau", "s_tau_per_epoch.png", "S-Tau"),
                                          ("gt_tau", "gt_tau_per_epoch.png", "GT-Tau"))
            if plots.tau_per_epoch(epoch_rows, key, out / name, title, references, by_variant)]
    plots.rank_trajectories(by_variant, out / "rank_trajectories.png", top=top_k)
    plots.top_k_frequency(by_variant, out / "top_k_frequency.png", k=top_k)
    pngs += ["rank_trajectories.png", "top_k_frequency.png"]
    for warning in _warnings(rows, references, inputs.runs):
        log.warning("report: %s", warning.replace("**", ""))
    text = (markdown(inputs, rows, references, last_k, pngs) + comparison_section(comparisons)
            + interference_section(by_variant, out)
            + dense.section(dense.recency([(r.steps, r.since) for r in inputs.runs if r.steps])))
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(text)
    if use_wandb:
        _log_wandb(out, by_variant, rows, pngs)
    log.info("report: %d runs, %d skipped -> %s", len(inputs.runs), len(inputs.skipped), out / "report.md")
    return rows


def _references(inputs: Inputs, instances: int) -> list[dict[str, Any]]:
    truth = next((r.truth for r in inputs.runs if r.truth), None)
    refs = []
    table = next((r.path / "ground_truth.csv" for r in inputs.runs if (r.path / "ground_truth.csv").exists()), None)
    if table is not None:
        config = yaml.safe_load((table.parent / ".hydra" / "config.yaml").read_text())
        space: SearchSpace = instantiate(config["search_space"])
        try:
            gt = read_table(table, space, metric=config.get("ground_truth", {}).get("metric", "test_acc"))
        except ValueError as e:  # named and skipped: the runs' own rows still stand
            log.warning("report: ground-truth reference rows skipped, %s is unreadable (%s)", table, e)
            gt = None
        s = gt.stability(children=inputs.runs[0].final) if gt is not None else {}
        if "s_tau" in s:
            refs.append({"variant": f"ground truth ({int(s['seeds'])} seeds, leave-one-out)", "runs": int(s["seeds"]),
                         "s_tau": s["s_tau"], "s_tau_min": s["s_tau_min"], "s_tau_max": s["s_tau_max"],
                         "gt_tau": s["gt_tau"], "gt_tau_std": s["gt_tau_std"], "t1r": s["t1r"], "t3r": s["t3r"]})
    refs.append({"variant": "random ranking", **random_floor(truth, sorted(inputs.runs[0].final), instances)})
    return refs


def interference_section(by_variant: dict[str, list[Run]], out: Path) -> str:
    """Mean +- std over seeds of each run's interference summary (from its `interference.csv`), per variant."""
    from benchmark.callbacks.interference import summarize

    table: dict[str, dict[str, list[float]]] = {}
    for variant, runs in sorted(by_variant.items()):
        for r in runs:
            f = r.path / "interference.csv"
            if f.exists():
                with open(f, newline="") as fh:
                    for k, v in summarize(list(csv.DictReader(fh))).items():
                        table.setdefault(variant, {}).setdefault(k, []).append(v)
    if not table:
        return ""
    keys = sorted({k for stats_ in table.values() for k in stats_ if k != "probes"})
    write_csv(out / "interference.csv", ("variant", "runs", *keys),
              [[v, len(next(iter(st.values()))), *(_mean(st.get(k, [])) for k in keys)] for v, st in table.items()])
    lines = ["", "## Interference (runs with the probe)", "",
             "| variant | runs | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for v, st in table.items():
        cells = [f"{_mean(st[k]):.3f} ± {float(np.std(st[k])):.3f}" if k in st else "—" for k in keys]
        lines.append(f"| {v} | {len(st[keys[0]])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\nMean ± std over seeds of each run's probe summary: mean gradient cosine per distance d, " \
        "and Spearman correlations of gradient similarity with d and with input/output similarity (all pairs, and " \
        "pairs at layers >= 1 where inputs can differ).\n"


def proxy_rows(path: str | Path, truth: dict[str, float] | None) -> list[dict[str, Any]]:
    """Training-free baselines from a `proxies.csv` (task=proxies), judged against the runs' ground truth."""
    by_proxy: dict[str, dict[str, float]] = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            by_proxy.setdefault(r["proxy"], {})[r["child"]] = float(r["score"])
    rows = []
    for name, scores in by_proxy.items():
        row: dict[str, Any] = {"variant": f"proxy: {name} (no training)"}
        if truth:
            row.update({k: v for k, v in metrics.ranking_quality(scores, truth).items()
                        if k in ("gt_tau", "t1r", "t3r", "regret")})
        rows.append(row)
    return rows


def _log_wandb(out: Path, by_variant: dict[str, list[Run]], rows: list[dict[str, Any]], pngs: list[str]) -> None:
    """One report run per variant, grouped with its seeds' runs (the study), so the dashboard shows the cross-seed
    numbers beside them: the variant's numbers as the run's summary, every variant's row in `report/summary`, the
    plots, and S-Tau (and GT-Tau where there is a ground truth) per epoch, charted against `epoch`.

    The run's id is derived from the report folder and the variant: building the report again writes the same run,
    which `wandb sync` then updates in place instead of adding a second run of the same name; the superseded offline
    copy in `<out>/wandb` is removed, so `wandb sync <out>/wandb/offline-run-*` uploads the current one only."""
    try:
        import wandb
    except ImportError:  # pragma: no cover - wandb is a requirement
        return
    import shutil

    table = [[r.get(c) for c in COLUMNS] for r in rows]
    for row in rows:
        variant = row["variant"]
        group = by_variant[variant][0].study or "report"
        run_id = "report-" + hashlib.sha1(f"{out.resolve()}\n{variant}".encode()).hexdigest()[:16]
        for stale in (out / "wandb").glob(f"offline-run-*-{run_id}"):
            shutil.rmtree(stale, ignore_errors=True)
        run = wandb.init(project="weight-sharing-benchmark", group=group, job_type="report", name=f"report-{group}",
                         id=run_id, resume="allow", dir=str(out), mode="offline", reinit="finish_previous",
                         config={"variant": variant}, settings=wandb.Settings(silent=True))
        try:
            run.define_metric("epoch")
            run.define_metric("per_epoch/*", step_metric="epoch")
            for epoch in per_epoch(by_variant[variant]):
                values = {f"per_epoch/{k}": epoch[k] for k in ("s_tau", "gt_tau", "gt_tau_std") if k in epoch}
                if values:
                    run.log({"epoch": epoch["epoch"], **values})
            run.log({"report/summary": wandb.Table(columns=list(COLUMNS), data=table),
                     **{f"report/{Path(p).stem}": wandb.Image(str(out / p)) for p in pngs}})
            run.summary.update({k: v for k, v in row.items() if isinstance(v, (int, float))})
        finally:
            run.finish()
    log.info("report: %d W&B run(s), one per variant, saved offline in %s; upload with: wandb sync %s",
             len(rows), out / "wandb", out / "wandb" / "offline-run-*")


class MultirunReport(Callback):
    """Hydra callback: at the end of a multirun, write the report beside the jobs (`<sweep dir>/report/`); a sweep
    that cannot be reported (nothing completed, mixed spaces) logs why and still ends normally. Then one line: the
    command that uploads the whole sweep's offline W&B runs (every job's and the report's) at once."""

    def __init__(self, last_k: int = 5, use_wandb: bool = True) -> None:
        self.last_k, self.use_wandb = last_k, use_wandb

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        if config.task.name != "search":
            return
        try:
            build_report([sweep], sweep / "report", last_k=self.last_k, use_wandb=self.use_wandb)
        except ReportError as e:
            log.error("error: %s", e)
        offline = list(sweep.glob("*/wandb/offline-run-*"))  # the jobs' folders and report/
        if offline:
            import shlex

            log.info("W&B: %d offline run(s) in this sweep; upload them all with: wandb sync %s/*/wandb/offline-run-*",
                     len(offline), shlex.quote(str(sweep)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="run folders or folders holding them (e.g. a multirun sweep)")
    parser.add_argument("--out", help="report folder (default: <first path>/report)")
    parser.add_argument("--last-k", type=int, default=5, help="epochs for the within-run stability columns")
    parser.add_argument("--dense-k", type=int, default=64,
                        help="mini-batches for GT-Tau-Mean-k / Std-k where runs left dense snapshots")
    parser.add_argument("--no-wandb", action="store_true", help="do not write a W&B report run")
    parser.add_argument("--proxies", help="a proxies.csv (task=proxies) to show as training-free baseline rows")
    parser.add_argument("--baseline", help="the variant the others are tested against (default: 'default', else "
                                           "the first)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        build_report(args.paths, args.out or Path(args.paths[0]) / "report", args.last_k, not args.no_wandb,
                     proxies=args.proxies, dense_k=args.dense_k, baseline=args.baseline)
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)  # a usage error, as argparse reports its own


if __name__ == "__main__":
    main()
