"""What a study's runs logged to W&B, the only thing a dashboard may draw on: each run's id, project, group (the
study), job type (`search` for a seed, `report` for a variant's report run) and every key it logged with its kind.
Read from the run files under a folder (offline runs, or online ones' local copies) or from a W&B project."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from benchmark.dashboard.records import read_records

#: W&B's `_type` of a logged value -> the kind a panel needs (numbers are charted, tables listed, images shown).
KINDS = {"table-file": "table", "incremental-table-file": "table", "partitioned-table": "table",
         "image-file": "image", "images/separated": "image"}


class DashboardError(ValueError):
    """Input a dashboard cannot be built from; the command exits 2 with its text."""


@dataclass
class LoggedRun:
    id: str
    project: str
    group: str
    job_type: str
    name: str
    keys: dict[str, str] = field(default_factory=dict)  # key -> "number", "table", "image" or "other"
    finished: bool = False  # the run file holds its exit record (everything it logged has been written)

    def note(self, key: str, kind: str) -> None:
        """Note a logged `key` of `kind` (a kind once known is kept; W&B's own keys, `_step` and such, are not)."""
        if not key.startswith("_") and self.keys.get(key) in (None, "other"):
            self.keys[key] = kind


def kind_of(value: Any) -> str:
    """The kind of a logged value, decoded from JSON: a number, or a media value by its `_type`."""
    if isinstance(value, dict):
        return KINDS.get(value.get("_type", ""), "other")
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else "other"


def _items(items: Iterable[Any], run: LoggedRun) -> None:
    """History or summary items: a key with its value, or one field of a media value (a table, an image), whose
    `_type` names its kind; its other fields (path, size, ...) are no keys of their own."""
    for item in items:
        path = [item.key] if item.key else list(item.nested_key)
        if len(path) == 1:
            run.note(path[0], kind_of(json.loads(item.value_json)))
        elif path[-1] == "_type":
            run.note(".".join(path[:-1]), kind_of({"_type": json.loads(item.value_json)}))


def read_run_file(path: Path) -> LoggedRun:
    """One `.wandb` file: the run it belongs to and what it logged."""
    run = LoggedRun("", "", "", "", "")
    for record in read_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.id, run.project, run.group, run.job_type, run.name = (r.run_id, r.project, r.run_group, r.job_type,
                                                                      r.display_name)
        elif kind == "history":
            _items(record.history.item, run)
        elif kind == "summary":
            _items(record.summary.update, run)
        elif kind == "exit":
            run.finished = True
    return run


def merge(runs: Iterable[LoggedRun]) -> list[LoggedRun]:
    """One entry per run id (a resumed run writes a second file under the same id), in the order first seen."""
    merged: dict[str, LoggedRun] = {}
    for run in runs:
        if run.id not in merged:
            merged[run.id] = run
            continue
        for key, kind in run.keys.items():
            merged[run.id].note(key, kind)
        merged[run.id].finished |= run.finished
    return list(merged.values())


def run_files(folder: Path) -> list[Path]:
    """The W&B run files under `folder`: `wandb/offline-run-*/` and `wandb/run-*/` (an online run's local copy)."""
    return sorted(p for pattern in ("**/wandb/offline-run-*/*.wandb", "**/wandb/run-*/*.wandb")
                  for p in folder.glob(pattern))


def from_folders(folders: Iterable[Path]) -> list[LoggedRun]:
    """Every run whose files lie under `folders` (runs without a run record, cut before it, are left out)."""
    files = sorted({f.resolve() for folder in folders for f in run_files(Path(folder))})
    return merge(run for run in map(read_run_file, files) if run.id)


def from_project(path: str) -> list[LoggedRun]:
    """Every run of the W&B project `entity/project`, with the keys of its summary (which holds every logged key's
    last value). Needs a network and a key."""
    import wandb

    runs = []
    for r in wandb.Api().runs(path):
        run = LoggedRun(r.id, r.project, r.group or "", r.job_type or "", r.name, finished=r.state == "finished")
        for key, value in r.summary_metrics.items():
            run.note(key, kind_of(value))
        runs.append(run)
    return runs


def logged_keys(runs: Iterable[LoggedRun]) -> dict[str, str]:
    """Every key any of `runs` logged, with its kind."""
    union = LoggedRun("", "", "", "", "")
    for run in runs:
        for key, kind in run.keys.items():
            union.note(key, kind)
    return union.keys
