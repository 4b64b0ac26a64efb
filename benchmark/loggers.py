"""A CSV logger that survives a resume and a kill.

Lightning's CSVLogger deletes an existing `metrics.csv` when it starts, so resuming a killed run into its pinned folder
(`resume=true`) would lose the metrics of every epoch before the kill; it also writes only every 100 steps, appending in
place, so a kill could lose epochs or cut a row. This one keeps the earlier rows (those of epochs the resumed run logs
again, after its checkpoint, are replaced by the new ones) and rewrites the whole file atomically whenever something is
logged (a row per epoch; with the interference probe also a row every `log_every_n_steps`: still a small file), so
`metrics.csv` is never more than the current epoch behind and never half written.
"""
from __future__ import annotations

import csv
from typing import Any

from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter

from benchmark.io import atomic_path


class _ContinuingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        """Read the earlier rows instead of deleting the file (the parent's behaviour)."""
        self.earlier: list[dict[str, Any]] = []
        self.written: list[dict[str, Any]] = []
        self.resumed_at: float | None = None  # the first epoch this process logs: earlier rows from there on go
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.earlier = [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(file)]

    def save(self) -> None:
        if not self.metrics:
            return
        if self.resumed_at is None:
            self.resumed_at = min((float(m["epoch"]) for m in self.metrics if "epoch" in m), default=float("inf"))
        self.written += self.metrics
        self.metrics = []
        kept = [row for row in self.earlier if row.get("epoch", "") == "" or float(row["epoch"]) < self.resumed_at]
        rows = kept + self.written
        self.metrics_keys = sorted(set().union(*rows))
        with atomic_path(self.metrics_file_path) as tmp:
            with open(tmp, "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
                writer.writeheader()
                writer.writerows(rows)


class ResumableCSVLogger(CSVLogger):
    """CSVLogger (same arguments and files) that continues an existing metrics.csv instead of deleting it, and
    writes it whenever metrics are logged (`flush_logs_every_n_steps=1`)."""

    def __init__(self, *args: Any, flush_logs_every_n_steps: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, flush_logs_every_n_steps=flush_logs_every_n_steps, **kwargs)

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(log_dir=self.log_dir)
        return self._experiment
