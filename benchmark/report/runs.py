"""What a report counts: run folders found, read and verified (config, status, every promised epoch a complete
ranking), labelled by variant, and refused together when they rank different spaces or children. Kept apart from the
numbers so that a damaged or foreign run is named and skipped before anything is computed from it."""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import yaml
from omegaconf import OmegaConf

from benchmark import dense
from benchmark import records
from benchmark.records import HEADER
from benchmark.validation import lookup
from benchmark.variants import variant_overrides


class ReportError(ValueError):
    """Inputs that cannot be reported (runs of different spaces, nothing countable); the CLI exits 2 with its text."""


#: What makes a folder a run folder, even a damaged one: a run that lost its config is named, not overlooked.
RUN_MARKERS = (".hydra", "rankings.csv", "snapshot.json", "status.json")
#: What a damaged file raises while it is read; such a run is skipped with the error's text.
DAMAGE = (OSError, ValueError, KeyError, csv.Error, yaml.YAMLError)
SNAPSHOT_KEYS = ("space", "decisions", "choices", "num_children")
#: Tasks whose runs rank children every epoch (a pruning search ranks fewer after each pruning).
SEARCH_TASKS = ("search", "prune_search")


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
    choices: dict[str, str] = field(default_factory=dict)  # config group -> option the run used (Hydra's choices)
    train_loss: dict[int, float] = field(default_factory=dict)  # epoch -> the supernet's mean training loss
    val_loss: dict[int, float] = field(default_factory=dict)  # epoch -> mean over the children of their val_loss
    kept_after: dict[int, set[str]] = field(default_factory=dict)  # a pruning search's epoch -> the children it kept

    @property
    def final(self) -> dict[str, float]:
        return self.epochs[max(self.epochs)]

    @property
    def every_epoch(self) -> bool:
        """Whether it ranked every epoch (callbacks.ranking.every_n_epochs > 1 leaves gaps between rankings)."""
        return max(self.epochs) - min(self.epochs) + 1 == len(self.epochs)


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
    if lookup(config, "task.name", None) not in SEARCH_TASKS:
        raise ValueError(f"task {lookup(config, 'task.name', None)!r} is not a search run "
                         f"(one of {list(SEARCH_TASKS)})")
    seed, max_epochs = lookup(config, "seed", None), lookup(config, "trainer.max_epochs", None)
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


def _read_rows(file: Path) -> tuple[dict[int, list[tuple[int, str, float]]], dict[str, float], dict[int, float]]:
    """rankings.csv as epoch -> [(rank, child, val_acc)], the ground truth where the file holds one, and epoch -> the
    children's mean validation loss (the supernet's, as far as the ranking split measures it)."""
    rows: dict[int, list[tuple[int, str, float]]] = {}
    truth: dict[str, float] = {}
    losses: dict[int, list[float]] = {}
    with open(file, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ())[: len(HEADER)] != HEADER:
            raise ValueError(f"rankings.csv has header {reader.fieldnames}, expected {list(HEADER)}")
        for line, row in enumerate(reader, start=2):
            try:
                if None in row:  # more fields than the header: lines run together
                    raise ValueError
                epoch, rank, acc = int(row["epoch"]), int(row["rank"]), float(row["val_acc"])
                loss = float(row["val_loss"]) if row.get("val_loss") else np.nan
                gt = float(row["gt_acc"]) if row.get("gt_acc") else None
            except (TypeError, ValueError):
                raise ValueError(f"rankings.csv line {line} is malformed (truncated file?): {row}") from None
            if not np.isfinite([acc, 0.0 if gt is None else gt]).all():
                raise ValueError(f"rankings.csv line {line} holds a non-finite accuracy")
            rows.setdefault(epoch, []).append((rank, row["child"], acc))
            losses.setdefault(epoch, []).append(loss)
            if gt is not None:
                truth[row["child"]] = gt
    return rows, truth, {e: float(np.mean(values)) for e, values in losses.items()}


def _train_loss(folder: Path) -> dict[int, float]:
    """Epoch -> the supernet's training loss from the CSV logger's `csv/metrics.csv` (its epoch-end rows: step-level
    rows carry no train/loss); {} where the run kept none (logger=none, a hand-made run) or it cannot be read."""
    try:
        with open(folder / "csv" / "metrics.csv", newline="") as f:
            return {int(float(row["epoch"])): float(row["train/loss"]) for row in csv.DictReader(f)
                    if row.get("epoch") and row.get("train/loss")}
    except (OSError, ValueError, KeyError, csv.Error):
        return {}


def _check_epochs(rows: dict[int, list[tuple[int, str, float]]], n: int, max_epochs: int, every_n_epochs: int,
                  kept_after: dict[int, set[str]]) -> None:
    """The epochs `records.ranked_epochs` promises (0..max_epochs-1 by default), each a complete snapshot: ranks 1..m,
    every child once, the same n children in every epoch - or, in a pruning search, after each pruning epoch exactly
    the children pruning.csv kept."""
    promised = records.ranked_epochs(max_epochs, every_n_epochs)
    schedule = "trainer.max_epochs" + (f" and callbacks.ranking.every_n_epochs={every_n_epochs}"
                                        if every_n_epochs > 1 else "")
    missing = sorted(set(promised) - rows.keys())
    if missing:
        raise ValueError(f"rankings.csv has {len(promised) - len(missing)} of the {len(promised)} epochs the config "
                         f"promised ({schedule}); epoch {missing[0]} is missing (stopped early or truncated)")
    if rows.keys() - set(promised):
        raise ValueError(f"rankings.csv has epochs the config did not promise ({schedule}; max_epochs={max_epochs}): "
                         f"{sorted(rows.keys() - set(promised))}")
    first = {c for _, c, _ in rows[min(rows)]}
    for epoch, ranked in sorted(rows.items()):
        pruned = [p for p in kept_after if p < epoch]
        expected = kept_after[max(pruned)] if pruned else first
        m = len(expected) if pruned else n
        children = {c for _, c, _ in ranked}
        if len(ranked) != m or len(children) != m:
            raise ValueError(f"rankings.csv epoch {epoch} has {len(ranked)} rows for {len(children)} children, "
                             f"expected {m} children once each (truncated or duplicated?)")
        if sorted(r for r, _, _ in ranked) != list(range(1, m + 1)):
            raise ValueError(f"rankings.csv epoch {epoch} does not hold ranks 1..{m} once each (a cut line?)")
        if children != expected:
            raise ValueError(f"rankings.csv epoch {epoch} ranks other children than pruning.csv kept after epoch "
                             f"{max(pruned)}" if pruned else "rankings.csv ranks different children in different "
                                                             "epochs")


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
    rows, truth, val_loss = _read_rows(rankings)
    kept_after = records.kept_after(folder)
    _check_epochs(rows, snapshot["num_children"], max_epochs, snapshot.get("every_n_epochs", 1), kept_after)
    # Listed by the rank column, so that the metrics judge the run's own pick when accuracies tie (see metrics.py).
    epochs = {e: {c: acc for _, c, acc in sorted(ranked)} for e, ranked in sorted(rows.items())}
    steps, since = dense.read(folder / records.DENSE, snapshot["num_children"]) if (folder / records.DENSE).exists() \
        else ({}, {})
    return Run(folder, seed, variant_overrides(overrides, config.get("neutral")), _study(folder, config),
               {**{k: snapshot[k] for k in SNAPSHOT_KEYS},
                "space_size": snapshot.get("space_size", snapshot["num_children"])}, epochs, truth or None,
               steps=steps, since=since, sharing=_sharing(config), environment=_environment(folder),
               choices=_choices(folder), train_loss=_train_loss(folder), val_loss=val_loss, kept_after=kept_after)


#: What makes two runs' numbers bit-comparable; runs differing in these agree only statistically.
BUILD = ("torch", "threads", "cpu", "cpu_capability", "gpus")


def _environment(folder: Path) -> dict[str, Any]:
    """The run's environment.json (absent in runs made before it existed, or unreadable: {} either way)."""
    try:
        data = json.loads((folder / "environment.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: data.get(k) for k in BUILD} if isinstance(data, dict) else {}


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
        node = OmegaConf.create({"study": study.replace("${hydra:", "${hydra."), "neutral": config.get("neutral"),
                                 "hydra": yaml.safe_load(hydra_file.read_text())["hydra"]})
        return str(node.study)
    except Exception:  # an old or hand-made run folder: group its report under 'report'
        return ""


def _choices(folder: Path) -> dict[str, str]:
    """The option of every config group the run used (`.hydra/hydra.yaml`, hydra.runtime.choices; {} if absent), so
    that a run without a `sampler=` override is labelled with the sampler it ran, not '(default)'."""
    try:
        choices = yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text())["hydra"]["runtime"]["choices"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return {}
    return {str(k): str(v) for k, v in choices.items() if v is not None} if isinstance(choices, dict) else {}


def assign_variants(runs: list[Run]) -> dict[str, str]:
    """Label each run by the overrides that differ between runs (the swept keys) or, when every run shares them, by
    the config-group options chosen for all (`sharing=partial`; 'default' without any; finer settings are listed
    under "Common settings"); return the shared ones."""
    keys = sorted({k for r in runs for k in r.overrides})
    value = lambda r, k: r.overrides.get(k, r.choices.get(k))  # noqa: E731 (a group's option even where not typed)
    swept = [k for k in keys if len({value(r, k) for r in runs}) > 1]
    common = {k: runs[0].overrides[k] for k in keys if k not in swept and k in runs[0].overrides}
    chosen = " ".join(f"{k}={v}" for k, v in common.items() if "." not in k) or "default"
    for r in runs:
        # A setting a run left at its default is not named (`task=search`, not `task=search task.drop=(default)`,
        # `sampler=uniform`, not `experiment=None sampler=uniform`).
        parts = [f"{k}={value(r, k)}" for k in swept if value(r, k) is not None]
        r.variant = (" ".join(parts) or "default") if swept else chosen
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
    """A short name for the children a run ranks (before any pruning): runs ranking different samples cannot be
    compared child by child."""
    return f"children sample {hashlib.sha1(' '.join(sorted(run.epochs[min(run.epochs)])).encode()).hexdigest()[:8]}"


def space_key(run: Run) -> tuple[str, str]:
    """What runs must share to be reported together: the space (snapshot.json's description) and the children ranked."""
    return json.dumps(run.space), _sample_label(run)


def _collect(paths: Sequence[str | Path]) -> Inputs:
    """Every run under `paths` that loads, and every folder not counted with why; not yet checked against each other."""
    inputs = Inputs()
    folders, nothing = find_run_folders(paths)
    for path, why in nothing:
        inputs.skip(path, why)
    for folder in folders:
        try:
            inputs.runs.append(load_run(folder))
        except DAMAGE as e:
            inputs.skip(folder, str(e))
    return inputs


def load_inputs(paths: Sequence[str | Path]) -> Inputs:
    """The verified runs under `paths`, and every folder not counted with why."""
    inputs = _collect(paths)
    _drop_duplicates(inputs)
    _refuse_mixed(inputs.runs, lambda r: space_key(r)[0],
                  "come from different search spaces (`python -m benchmark.report --by-space` sets them side by side)")
    _refuse_mixed(inputs.runs, _sample_label,
                  "rank different children (a different search_space.eval_children or eval_seed)")
    if inputs.runs:
        inputs.common = assign_variants(inputs.runs)
    return inputs


def load_by_space(paths: Sequence[str | Path]) -> tuple[dict[tuple[str, str], Inputs], Inputs]:
    """The verified runs under `paths` split by space_key, each group as load_inputs would give it alone (the
    cross-space report), and everything found with the folders not counted (`skipped`)."""
    found = _collect(paths)
    groups: dict[tuple[str, str], Inputs] = {}
    for r in found.runs:
        groups.setdefault(space_key(r), Inputs()).runs.append(r)
    for group in groups.values():
        _drop_duplicates(group)
        group.common = assign_variants(group.runs)
    return groups, found


def nothing_to_report(paths: Sequence[str | Path], inputs: Inputs) -> str:
    """One line: what was looked at and why nothing there counts."""
    why = "; ".join(f"{p}: {reason}" for p, reason in inputs.skipped)
    return f"no run to report in {', '.join(map(str, paths))} ({why})"
